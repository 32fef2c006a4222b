import { test, expect, hydrated, signIn, shot, ADMIN_EMAIL, ADMIN_PASSWORD } from "./fixtures";

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
  await expect(page.getByTestId("import-counts")).toContainText("rows checked: would create 2, would update 0,");
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
  expectedConsoleErrors.push({ status: 422, resource: /^\/api\/imports\/correct$/ });
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

  // A value that is still wrong is refused with the reason, even when the page asks for the
  // job again meanwhile (as it does once its live stream is connected): the answer is the
  // same job, so the page is not drawn again under the pending correction. Here that
  // answer is held back until the correction has been sent.
  let sent = () => {};
  const correcting = new Promise<void>((resolve) => (sent = resolve));
  const onRequest = (r: { url(): string }) => {
    if (r.url().endsWith("/api/imports/correct")) sent();
  };
  page.on("request", onRequest);
  await page.route("**/api/imports/show", async (route) => {
    await correcting;
    await route.continue();
  });
  // Every load asks once its stream is connected, also when the stream was opened (by the
  // bell) and said `resync` before the job's island started.
  const resynced = page.waitForResponse((r) => r.url().endsWith("/api/imports/show"), { timeout: 10_000 });
  await page.reload();
  await hydrated(page);
  const bob = page.getByLabel("New value of Country on line 3");
  await bob.fill("Atlantis2");
  await page.getByTestId("error-row").filter({ hasText: "Atlantis" }).getByRole("button", { name: "Fix" }).click();
  await (await resynced).finished();
  await expect(page.getByRole("alert")).toContainText("Line 3, Country: “Atlantis2” is not a country");
  await page.waitForTimeout(300);
  await expect(page.getByRole("alert")).toContainText("Line 3, Country: “Atlantis2” is not a country");
  await expect(bob).toHaveValue("Atlantis2");
  await page.unroute("**/api/imports/show");
  page.off("request", onRequest);

  // A right one is kept.
  await bob.fill("FR");
  await page.getByTestId("error-row").filter({ hasText: "Atlantis" }).getByRole("button", { name: "Fix" }).click();
  await expect(page.getByTestId("error-row")).toHaveCount(2, { timeout: 20_000 });
  await expect(page.getByTestId("import-counts")).toContainText("rows checked: would create 2,");

  await page.getByRole("button", { name: "Drop line 5" }).click();
  await expect(page.getByTestId("error-row")).toHaveCount(1, { timeout: 20_000 });
  await expect(page.getByTestId("import-counts")).toHaveText(
    "3 of 3 rows checked: would create 2, would update 0, 0 unchanged, 1 error. Nothing is written until you confirm.",
  );
  await expect(page.getByTestId("log")).toContainText("Line 3, Country: “Atlantis” → “FR” (corrected by");
  await expect(page.getByTestId("log")).toContainText("Line 5 dropped");
  await shot(page, "import-review");

  await page.getByRole("button", { name: "Confirm: import these rows" }).click();
  await expect(status).toHaveText("Success with errors", { timeout: 20_000 });
  const found = await page.request.get("/api/v1/clients?search=fix.");
  expect((await found.json()).total).toBe(2);
});

/** A Wifox client export: 41 columns in Wifox naming, 500 rows, 12 of them bad (4 impossible
 * dates of birth, 4 unknown countries, 4 emails repeating an earlier one in another case). */
function wifoxExport(): { csv: string; badCountryLines: number[]; repeatLines: number[] } {
  const header = [
    "Email", "First name", "Last name", "Country", "Phone", "Date Of Birth", "billing.city",
    "billing.postcode", "Billing address", "Verification level", "processedDate", "Comments",
    "State", "External ID", "AffiliateID", "Additional phone", "Registration IP",
    "Registration origin", "tradingGroups.0",
  ];
  for (let i = 0; i < 11; i++) header.push(`lifestyle.${i}`);
  for (let i = 0; i < 11; i++) header.push(`agreements.${i}`);
  const rows: string[] = [header.join(",")];
  const badCountryLines: number[] = [];
  const repeatLines: number[] = [];
  for (let i = 0; i < 500; i++) {
    const line = i + 2;
    let email = `wfx${i}@example.com`;
    let country = "GB";
    let birth = "1985-06-15";
    if (i % 125 === 10) birth = "31/02/1990";
    if (i % 125 === 20) {
      country = "Atlantis";
      badCountryLines.push(line);
    }
    if (i % 125 === 30) {
      email = `WFX${i - 1}@EXAMPLE.COM`;
      repeatLines.push(line);
    }
    const cells = [
      email, `Ann${i}`, `Lee${i}`, country, "+44 20 7946 0958", birth, "London", "SW1A 1AA",
      "1 High Street", "1", "2026-01-02", "vip", "Greater London", `WFX-EXT-${i}`, `AFF-${i % 7}`,
      "+44 20 7946 0000", "10.0.0.1", "web", "standard",
    ];
    for (let k = 0; k < 22; k++) cells.push(`v${k}`);
    rows.push(cells.join(","));
  }
  return { csv: rows.join("\n") + "\n", badCountryLines, repeatLines };
}

test("a 500-row Wifox export with 12 bad rows is mapped, 3 rows fixed and 2 dropped, and ends with exactly 7 in the error report", async ({
  page,
}) => {
  test.setTimeout(180_000);
  const { csv, badCountryLines, repeatLines } = wifoxExport();
  await page.goto("/login");
  await hydrated(page);
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page).toHaveURL(/\/clients$/);
  await hydrated(page);

  const upload = async (title: string) => {
    await page.getByTestId("import-button").click();
    const dialog = page.getByRole("dialog", { name: "Import a file" });
    await dialog.getByLabel("Title").fill(title);
    await dialog.getByLabel("File").setInputFiles({
      name: "wifox.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(csv),
    });
    await dialog.getByTestId("review-mapping").check();
    await dialog.getByRole("button", { name: "Upload and import" }).click();
    await expect(page).toHaveURL(/\/imports\/\d+\/mapping$/);
    await hydrated(page);
  };
  await upload(`Wifox export ${Date.now()}`);
  const jobId = page.url().split("/").at(-2);
  const target = (column: string) => page.getByLabel(`What column ${column} fills`);
  await expect(page.getByTestId("saved-mapping")).toHaveCount(0);
  await expect(target("billing.city")).toHaveValue("City");
  await expect(target("billing.postcode")).toHaveValue("Postal code");
  await expect(target("Billing address")).toHaveValue("Address");
  await expect(target("Date Of Birth")).toHaveValue("Date of birth");
  await expect(target("External ID")).toHaveValue("extra:External ID");
  // Comments are left out; the postcode is kept as an attribute of its own.
  await target("Comments").selectOption("ignore");
  await target("billing.postcode").selectOption("extra:billing.postcode");
  await page.getByRole("button", { name: "Review the import" }).click();

  const status = page.locator("h1").getByTestId("status");
  await expect(async () => {
    await page.goto(`/imports/${jobId}`);
    await expect(status).toHaveText("Awaiting confirmation", { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId("error-row")).toHaveCount(12);
  await hydrated(page);

  // Three unknown countries fixed in place, two repeated emails dropped.
  let left = 12;
  for (const line of badCountryLines.slice(0, 3)) {
    await page.getByLabel(`New value of Country on line ${line}`).fill("FR");
    await page
      .getByTestId("error-row")
      .filter({ has: page.getByLabel(`New value of Country on line ${line}`) })
      .getByRole("button", { name: "Fix" })
      .click();
    left -= 1;
    await expect(page.getByTestId("error-row")).toHaveCount(left, { timeout: 30_000 });
    await expect(status).toHaveText("Awaiting confirmation", { timeout: 30_000 });
  }
  for (const line of repeatLines.slice(0, 2)) {
    await page.getByRole("button", { name: `Drop line ${line}` }).click();
    left -= 1;
    await expect(page.getByTestId("error-row")).toHaveCount(left, { timeout: 30_000 });
    await expect(status).toHaveText("Awaiting confirmation", { timeout: 30_000 });
  }
  // The last re-check may still be on its way: as long as the ones above.
  await expect(page.getByTestId("import-counts")).toHaveText(
    "498 of 498 rows checked: would create 491, would update 0, 0 unchanged, 7 errors. Nothing is written until you confirm.",
    { timeout: 30_000 },
  );
  await page.getByRole("button", { name: "Confirm: import these rows" }).click();
  await expect(status).toHaveText("Success with errors", { timeout: 60_000 });
  await expect(page.getByTestId("import-counts")).toHaveText(
    "498 of 498 rows processed: 491 created, 0 updated, 0 unchanged, 7 errors.",
  );
  const report = await page.request.get(`/api/v1/imports/${jobId}/errors.csv`);
  const reportLines = (await report.text()).trim().split(/\r?\n/);
  expect(reportLines.length).toBe(1 + 7);

  // The client page shows the extra attributes; an External ID finds the client.
  await page.goto("/clients");
  await hydrated(page);
  await page.getByLabel("Search").fill("WFX-EXT-42");
  await page.getByRole("button", { name: "Apply" }).click();
  const found = page.getByTestId("client-row");
  await expect(found).toHaveCount(1);
  await found.getByRole("link", { name: "wfx42@example.com" }).click();
  const attributes = page.getByTestId("client-attributes");
  await expect(attributes).toContainText("WFX-EXT-42");
  await expect(attributes).toContainText("billing.postcode");
  await expect(attributes).not.toContainText("Comments");

  // The next file with these columns is mapped the same way, and says so.
  await page.goto("/clients");
  await hydrated(page);
  await upload(`Wifox export again ${Date.now()}`);
  await expect(page.getByTestId("saved-mapping")).toBeVisible();
  await expect(target("Comments")).toHaveValue("ignore");
  await expect(target("billing.postcode")).toHaveValue("extra:billing.postcode");
});

test("an import waiting for its mapping is discarded from the mapping page, and nothing of it is imported", async ({
  page,
}) => {
  await page.goto("/login");
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page.getByTestId("current-user")).toContainText(ADMIN_EMAIL);
  const email = `discarded.${Date.now()}@example.com`;
  const res = await page.request.post("/api/v1/imports", {
    multipart: {
      title: "A file we do not want",
      action: "import-users",
      review_mapping: "true",
      file: { name: "unwanted.csv", mimeType: "text/csv", buffer: Buffer.from(`E-mail Address,Given name\n${email},Una\n`) },
    },
  });
  expect(res.status(), await res.text()).toBe(202);
  const job = await res.json();
  await page.goto(`/imports/${job.id}/mapping`);
  await hydrated(page);
  await page.getByRole("button", { name: "Discard this import" }).click();
  await expect(page.getByTestId("discarded")).toContainText("This import was discarded");
  await page.goto(`/imports/${job.id}`);
  await expect(page.getByTestId("status").first()).toHaveText("Discarded");
  await expect(page.getByTestId("log")).toContainText(`Discarded by ${ADMIN_EMAIL}: nothing was imported.`);
  const found = await (await page.request.get(`/api/v1/clients?search=${encodeURIComponent(email)}`)).json();
  expect(found.total).toBe(0);
});
