import { test, expect, hydrated, signIn, shot, ADMIN_EMAIL, ADMIN_PASSWORD } from "./fixtures";
import { readFileSync } from "node:fs";

const FILE = [
  "Email,First name,Last name,Country,City",
  "imp.alice@example.com,Alice,Archer,GB,London",
  "imp.bob@example.com,Bob,Baker,DE,Berlin",
  "imp.carol@example.com,Carol,Cole,Atlantis,Paris",
  "",
].join("\n");

test("an import's status, counts, log and row errors are on Import Data, with the error report", async ({
  page,
}) => {
  await page.goto("/login");
  await hydrated(page);
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page.getByTestId("current-user")).toContainText(ADMIN_EMAIL);

  // Upload through the API with the page's own session.
  const title = `Old CRM export ${Date.now()}`;
  const res = await page.request.post("/api/v1/imports", {
    multipart: {
      title,
      action: "import-users",
      file: { name: "clients.csv", mimeType: "text/csv", buffer: Buffer.from(FILE) },
    },
  });
  expect(res.status()).toBe(202);
  const job = await res.json();

  // The list shows the job; it ends "Success with errors" (reload until the worker is done).
  await expect(async () => {
    await page.goto("/imports");
    const row = page.getByTestId("import-row").filter({ hasText: title });
    await expect(row.getByTestId("status")).toHaveText("Success with errors", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  const row = page.getByTestId("import-row").filter({ hasText: title });
  // Title, action, date, initiator, status, processed / total, created, updated, unchanged, errors.
  await expect(row.locator("td")).toHaveText([
    title,
    "import-users",
    /^\d{4}-\d\d-\d\d \d\d:\d\d/,
    ADMIN_EMAIL,
    "Success with errors",
    "3 / 3",
    "2",
    "0",
    "0",
    "1",
  ]);
  await hydrated(page);
  await shot(page, "imports");

  // The details: counts, initiator, log, the row error with its line, column and value.
  await row.getByRole("link", { name: title }).click();
  await expect(page).toHaveURL(new RegExp(`/imports/${job.id}$`));
  await expect(page.getByTestId("import-counts")).toHaveText(
    "3 of 3 rows processed: 2 created, 0 updated, 0 unchanged, 1 error.",
  );
  await expect(page.getByTestId("initiator")).toHaveText(ADMIN_EMAIL);
  await expect(page.getByTestId("log")).toContainText("Read as UTF-8 with comma separators: 3 data rows.");
  const error = page.getByTestId("error-row");
  await expect(error).toHaveCount(1);
  // Line, column, value, reason.
  await expect(error.locator("td")).toHaveText(["4", "Country", "Atlantis", /Atlantis.* is not a country/]);
  await hydrated(page);
  await shot(page, "import-details");

  // The error report downloads with the failed row, its line and reason.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("error-report").click(),
  ]);
  const report = readFileSync(await download.path()).toString("utf8");
  expect(report.startsWith("\uFEFFline,error,Email,First name,Last name,Country,City")).toBe(true);
  expect(report).toContain("4,");
  expect(report).toContain("imp.carol@example.com,Carol,Cole,Atlantis,Paris");

  // Filtering by another status leaves it out.
  await page.goto("/imports?status=failed");
  await expect(page.getByTestId("import-row").filter({ hasText: title })).toHaveCount(0);
});

test("a validate-only import is confirmed from its page, then reverted after a confirmation step", async ({
  page,
}) => {
  await page.goto("/login");
  await hydrated(page);
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page.getByTestId("current-user")).toContainText(ADMIN_EMAIL);
  const file = "Email,First name\nrev.dana@example.com,Dana\nrev.eli@example.com,Eli\n";
  const res = await page.request.post("/api/v1/imports", {
    multipart: {
      title: `Dry run ${Date.now()}`,
      action: "import-users",
      validate_only: "true",
      file: { name: "two.csv", mimeType: "text/csv", buffer: Buffer.from(file) },
    },
  });
  expect(res.status()).toBe(202);
  const job = await res.json();
  const status = page.locator("h1").getByTestId("status");

  await expect(async () => {
    await page.goto(`/imports/${job.id}`);
    await expect(status).toHaveText("Awaiting confirmation", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId("import-counts")).toContainText("rows checked: would create 2, would update 0,");
  const before = await page.request.get("/api/v1/clients?search=rev.");
  expect((await before.json()).total).toBe(0);

  await hydrated(page);
  await page.getByRole("button", { name: "Confirm: import these rows" }).click();
  await expect(async () => {
    await page.goto(`/imports/${job.id}`);
    await expect(status).toHaveText("Success", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  const after = await page.request.get("/api/v1/clients?search=rev.");
  expect((await after.json()).total).toBe(2);

  // Revert asks first, then says what it did.
  await hydrated(page);
  await expect(page.getByRole("button", { name: "Yes, revert this import" })).toBeHidden();
  await page.getByText("Revert…").click();
  await page.getByRole("button", { name: "Yes, revert this import" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Reverted:" })).toHaveText(
    "Reverted: 2 records deleted, 0 restored, 0 not reverted.",
  );
  await expect(status).toHaveText("Reverted");
  await expect(page.getByTestId("log")).toContainText(`Reverted by ${ADMIN_EMAIL}`);
  await shot(page, "import-reverted");
  const gone = await page.request.get("/api/v1/clients?search=rev.");
  expect((await gone.json()).total).toBe(0);
});
