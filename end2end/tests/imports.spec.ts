import { test, expect, hydrated, signIn, shot } from "./fixtures";
import { ADMIN_EMAIL, ADMIN_PASSWORD } from "../playwright.config";
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
  await expect(row).toContainText(ADMIN_EMAIL);
  await expect(row).toContainText("3 / 3");
  await hydrated(page);
  await shot(page, "imports");

  // The details: counts, initiator, log, the row error with its line, column and value.
  await row.getByRole("link", { name: title }).click();
  await expect(page).toHaveURL(new RegExp(`/imports/${job.id}$`));
  await expect(page.getByTestId("import-counts")).toHaveText(
    "3 of 3 rows processed: 2 created, 0 updated, 0 unchanged, 1 errors.",
  );
  await expect(page.getByTestId("initiator")).toHaveText(ADMIN_EMAIL);
  await expect(page.getByTestId("log")).toContainText("Read as UTF-8 with comma separators: 3 data rows.");
  const error = page.getByTestId("error-row");
  await expect(error).toHaveCount(1);
  await expect(error).toContainText("4");
  await expect(error).toContainText("Country");
  await expect(error).toContainText("Atlantis");
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
