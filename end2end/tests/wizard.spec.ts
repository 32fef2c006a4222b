import { test, expect, hydrated, signIn, shot } from "./fixtures";
import { ADMIN_EMAIL, ADMIN_PASSWORD } from "../playwright.config";

// A partner's export in its own column names, with a column of its own and a read-only one.
const PARTNER = [
  "E-mail Address,Given name,Surname,Mobile,Zip,DOB,External ID,Updated",
  "wiz.ann@example.com,Ann,Lee,+44 20 7946 0958,SW1A 1AA,1980-02-03,WX-7001,2026-01-01",
  "wiz.bob@example.com,Bob,Ma,+1 555 0100 200,10001,1990-05-06,WX-7002,2026-01-01",
  "",
].join("\n");

test("a partner's file is mapped column by column from the Clients dialog, reviewed, confirmed and found by its extra attribute", async ({
  page,
}) => {
  await page.goto("/login");
  await hydrated(page);
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page).toHaveURL(/\/clients$/);
  await hydrated(page);

  await page.getByTestId("import-button").click();
  const dialog = page.getByRole("dialog", { name: "Import a file" });
  await dialog.getByLabel("Title").fill(`Partner file ${Date.now()}`);
  await dialog.getByLabel("File").setInputFiles({
    name: "partner.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(PARTNER),
  });
  await dialog.getByTestId("review-mapping").check();
  await dialog.getByRole("button", { name: "Upload and import" }).click();

  // The mapping step: each column with its values and the proposed field.
  await expect(page).toHaveURL(/\/imports\/\d+\/mapping$/);
  const jobId = page.url().split("/").at(-2);
  await hydrated(page);
  const target = (column: string) => page.getByLabel(`What column ${column} fills`);
  await expect(target("E-mail Address")).toHaveValue("Email");
  await expect(target("Given name")).toHaveValue("First name");
  await expect(target("Mobile")).toHaveValue("Phone number");
  await expect(target("Zip")).toHaveValue("Postal code");
  await expect(target("External ID")).toHaveValue("extra:External ID");
  await expect(target("Updated")).toHaveValue("ignore");
  await expect(page.locator("tr[data-column='E-mail Address']")).toContainText("wiz.ann@example.com");
  await shot(page, "import-mapping");

  // Zip is left out; the rest as proposed. The review runs, nothing is written yet.
  await target("Zip").selectOption("ignore");
  await page.getByRole("button", { name: "Review the import" }).click();
  await expect(page).toHaveURL(new RegExp(`/imports/${jobId}$`));
  const status = page.locator("h1").getByTestId("status");
  await expect(async () => {
    await page.goto(`/imports/${jobId}`);
    await expect(status).toHaveText("Awaiting confirmation", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId("import-counts")).toContainText("2 created");
  await expect(page.getByTestId("job-mapping")).toContainText("extra:External ID");
  const before = await page.request.get("/api/v1/clients?search=wiz.");
  expect((await before.json()).total).toBe(0);

  await hydrated(page);
  await page.getByRole("button", { name: "Confirm: import these rows" }).click();
  await expect(async () => {
    await page.goto(`/imports/${jobId}`);
    await expect(status).toHaveText("Success", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });

  // The extra attribute finds the client, and its page shows it.
  await page.goto("/clients");
  await hydrated(page);
  await page.getByLabel("Search").fill("WX-7001");
  await page.getByRole("button", { name: "Apply" }).click();
  const found = page.getByTestId("client-row");
  await expect(found).toHaveCount(1);
  await found.getByRole("link", { name: "wiz.ann@example.com" }).click();
  await expect(page.getByTestId("client-attributes")).toContainText("External ID");
  await expect(page.getByTestId("client-attributes")).toContainText("WX-7001");
  await expect(page.getByTestId("client-facts")).not.toContainText("SW1A 1AA");
  await hydrated(page);
  await shot(page, "client-attributes");
});

test("failing rows are corrected in place or dropped in the review, then the import is confirmed", async ({
  page,
  expectedConsoleErrors,
}) => {
  // The refused correction below is answered 422, which the browser logs.
  expectedConsoleErrors.push(/Failed to load resource: the server responded with a status of 422/);
  await page.goto("/login");
  await hydrated(page);
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page.getByTestId("current-user")).toContainText(ADMIN_EMAIL);
  const file = [
    "Email,First name,Country",
    "fix.ann@example.com,Ann,GB",
    "fix.bob@example.com,Bob,Atlantis",
    "fix.cy@example.com,Cy,Neverland",
    "fix.dee@example.com,Dee,Utopia",
    "",
  ].join("\n");
  const res = await page.request.post("/api/v1/imports", {
    multipart: {
      title: `Review ${Date.now()}`,
      action: "import-users",
      validate_only: "true",
      file: { name: "review.csv", mimeType: "text/csv", buffer: Buffer.from(file) },
    },
  });
  expect(res.status()).toBe(202);
  const job = await res.json();
  const status = page.locator("h1").getByTestId("status");
  await expect(async () => {
    await page.goto(`/imports/${job.id}`);
    await expect(status).toHaveText("Awaiting confirmation", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId("error-row")).toHaveCount(3);
  await hydrated(page);

  // A value that is still wrong is refused with the reason; a right one is kept.
  const bob = page.getByLabel("New value of Country on line 3");
  await bob.fill("Atlantis2");
  await page.getByTestId("error-row").filter({ hasText: "Atlantis" }).getByRole("button", { name: "Fix" }).click();
  await expect(page.getByRole("alert")).toContainText("Line 3, Country: `Atlantis2` is not a country");
  await bob.fill("FR");
  await page.getByTestId("error-row").filter({ hasText: "Atlantis" }).getByRole("button", { name: "Fix" }).click();
  await expect(page.getByTestId("error-row")).toHaveCount(2, { timeout: 20_000 });
  await expect(page.getByTestId("import-counts")).toContainText("2 created");

  await page.getByRole("button", { name: "Drop line 5" }).click();
  await expect(page.getByTestId("error-row")).toHaveCount(1, { timeout: 20_000 });
  await expect(page.getByTestId("import-counts")).toHaveText(
    "3 of 3 rows processed: 2 created, 0 updated, 0 unchanged, 1 errors.",
  );
  await expect(page.getByTestId("log")).toContainText("Line 3, Country: `Atlantis` → `FR` (corrected by");
  await expect(page.getByTestId("log")).toContainText("Line 5 dropped");
  await shot(page, "import-review");

  await page.getByRole("button", { name: "Confirm: import these rows" }).click();
  await expect(status).toHaveText("Success with errors", { timeout: 20_000 });
  const found = await page.request.get("/api/v1/clients?search=fix.");
  expect((await found.json()).total).toBe(2);
});
