import { test, expect, hydrated, signIn, shot, ADMIN_EMAIL, ADMIN_PASSWORD } from "./fixtures";
import { readFileSync } from "node:fs";
import { Page, request } from "@playwright/test";

// The people of these scenarios; the admin creates them first.
const OPERATOR = { email: "olga.operator@example.com", password: "olga-operator-pw-1" };
const OTHER_OPERATOR = { email: "oscar.operator@example.com", password: "oscar-operator-pw-1" };
const MANAGER = { email: "mia.manager@example.com", password: "mia-manager-pw-1" };

// Long enough that the import is still running when its page opens (the status must
// change on the page while it is watched), with two bad rows among the good ones. The
// engine writes some 50,000 rows a second even in a debug build, so it takes this many.
const GOOD_ROWS = 600_000;
function clientFile(): string {
  const lines = ["Email,First name,Last name,Country,City"];
  for (let i = 1; i <= GOOD_ROWS; i++) {
    const n = String(i).padStart(6, "0");
    lines.push(`live.${n}@example.com,Live${n},Client,GB,London`);
    if (i === 10) lines.push("broken.date@example.com,Bad,Row,Narnia,Nowhere");
    if (i === 20) lines.push("not-an-email,Bad,Email,GB,London");
  }
  return lines.join("\n") + "\n";
}

async function signInAs(page: Page, who: { email: string; password: string }) {
  await page.goto("/login");
  await signIn(page, who.email, who.password);
  await expect(page.getByTestId("current-user")).toContainText(who.email);
}

async function signOut(page: Page) {
  await hydrated(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
}

test.describe.configure({ mode: "serial" });

test("the admin sets up the people and the IB program of these scenarios", async ({ page }) => {
  await signInAs(page, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  for (const [who, role] of [
    [OPERATOR, "operator"],
    [OTHER_OPERATOR, "operator"],
    [MANAGER, "manager"],
  ] as const) {
    const res = await page.request.post("/api/admin/users/create", {
      form: { email: who.email, role, password: who.password },
    });
    expect(res.status(), await res.text()).toBe(200);
  }
  // An IB program, created on its page.
  await page.goto("/ib-programs");
  await hydrated(page);
  await page.getByLabel("IB Type ID").fill("7");
  await page.getByLabel("Name", { exact: true }).fill("Gold partners");
  await page.getByRole("button", { name: "Create program" }).click();
  // IB Type ID, name, partners, referrals, created.
  await expect(page.getByTestId("program-row").filter({ hasText: "Gold partners" }).locator("td").first()).toHaveText("7");
  await shot(page, "ib-programs");

  // Import Data's + Create opens the full form with every action's rules.
  await page.goto("/imports");
  await page.getByTestId("create-import").click();
  await expect(page).toHaveURL(/\/imports\/new$/);
  await expect(page.getByRole("heading", { name: "New import", level: 1 })).toBeVisible();
  for (const label of ["Title", "Description (optional)", "Action", "Delimiter", "File"]) {
    await expect(page.getByLabel(label, { exact: true })).toBeVisible();
  }
  // Both options start off: a file in our own column names goes straight in.
  await expect(page.getByRole("checkbox")).toHaveCount(2);
  await expect(page.getByRole("checkbox", { name: /^Review the mapping/ })).not.toBeChecked();
  await expect(page.getByRole("checkbox", { name: /^Validate only/ })).not.toBeChecked();
  await expect(page.getByTestId("template")).toHaveCount(3);
  await hydrated(page);
  await shot(page, "import-create");
});

test("an operator imports from Clients, watches it finish without reloading, reads the errors, is notified and finds the client", async ({
  page,
}) => {
  test.setTimeout(180_000);
  await signInAs(page, OPERATOR);
  await expect(page).toHaveURL(/\/clients$/);
  await hydrated(page);

  // The Import dialog states the rules and offers a template.
  await page.getByTestId("import-button").click();
  const dialog = page.getByRole("dialog", { name: "Import a file" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId("required-columns").filter({ visible: true })).toHaveText("Email, First name");
  await expect(dialog.getByTestId("limits").filter({ visible: true })).toContainText("data rows");
  const [template] = await Promise.all([
    page.waitForEvent("download"),
    dialog.getByTestId("template").filter({ visible: true }).click(),
  ]);
  const templateText = readFileSync(await template.path()).toString("utf8");
  expect(templateText.startsWith("\uFEFFID,Email,First name,Last name,")).toBe(true);
  expect(templateText).toContain("jane.doe@example.com,Jane,Doe");
  await shot(page, "import-dialog");

  // Upload a file with good and bad rows.
  const title = `Live import ${Date.now()}`;
  await dialog.getByLabel("Title").fill(title);
  await dialog.getByLabel("File").setInputFiles({
    name: "clients.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(clientFile()),
  });
  await dialog.getByRole("button", { name: "Upload and import" }).click();
  await expect(page).toHaveURL(/\/imports\/\d+$/);
  const jobId = page.url().split("/").pop();
  await hydrated(page);

  // Mark this document: a reload or a navigation would lose the mark.
  await page.evaluate(() => ((window as any).__watched = true));
  const status = page.locator("h1").getByTestId("status");
  await expect(status).toHaveText(/New|In Progress/);
  await expect(page.getByTestId("bell-count")).toHaveCount(0);
  // Still running: the progress moves on the page by itself.
  await expect(page.getByTestId("import-counts")).not.toContainText(/^0 of/, { timeout: 60_000 });
  await shot(page, "import-running");
  await expect(status).toHaveText("Success with errors", { timeout: 120_000 });
  expect(await page.evaluate(() => (window as any).__watched)).toBe(true);
  const total = GOOD_ROWS + 2;
  const n = (count: number) => count.toLocaleString("en-US");
  await expect(page.getByTestId("import-counts")).toHaveText(
    `${n(total)} of ${n(total)} rows processed: ${n(GOOD_ROWS)} created, 0 updated, 0 unchanged, 2 errors.`,
  );
  await expect(page.getByTestId("import-pace")).toHaveText(/^Took \d+:\d\d \([\d,]+ rows\/s\)$/);
  await expect(page.getByRole("progressbar")).toHaveAttribute("value", "100");

  // The error messages name line, column, value and reason.
  const errors = page.getByTestId("error-row");
  await expect(errors).toHaveCount(2);
  await expect(errors.nth(0).locator("td")).toHaveText(["12", "Country", "Narnia", /Narnia.* is not a country/]);
  await expect(errors.nth(1).locator("td")).toHaveText(["23", "Email", "not-an-email", /not-an-email.* is not a valid email address/]);

  // The error report holds exactly the two failed rows.
  const [report] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("error-report").click(),
  ]);
  const reportText = readFileSync(await report.path()).toString("utf8");
  expect(reportText.startsWith("\uFEFFline,error,")).toBe(true);
  const reportLines = reportText.slice(1).trimEnd().split(/\r?\n/);
  expect(reportLines[0]).toBe("line,error,Email,First name,Last name,Country,City");
  expect(reportLines).toHaveLength(3);
  expect(reportLines[1]).toMatch(/^12,.*broken\.date@example\.com,Bad,Row,Narnia,Nowhere$/);
  expect(reportLines[2]).toMatch(/^23,.*not-an-email,Bad,Email,GB,London$/);

  // The bell rang, still without a reload; its note links to the details and the report.
  await expect(page.getByTestId("bell-count")).toHaveText("1");
  expect(await page.evaluate(() => (window as any).__watched)).toBe(true);
  await page.getByTestId("bell").locator("summary").click();
  const note = page.getByTestId("notification").first();
  await expect(note).toContainText("Finished with 2 errors:");
  await expect(note.getByRole("link", { name: "Details" })).toHaveAttribute("href", `/imports/${jobId}`);
  await expect(note.getByRole("link", { name: "Error report" })).toHaveAttribute(
    "href",
    `/api/v1/imports/${jobId}/errors.csv`,
  );
  await shot(page, "notifications");
  await note.getByRole("button", { name: "Mark read" }).click();
  await expect(page.getByTestId("bell-count")).toHaveCount(0);

  // The Import Data list shows the job with its counts.
  await page.goto("/imports");
  const row = page.getByTestId("import-row").filter({ hasText: title });
  await expect(row.getByTestId("status")).toHaveText("Success with errors");
  await expect(row.locator("td").nth(5)).toHaveText(`${n(total)} / ${n(total)}`);
  await expect(row.locator("td").nth(6)).toHaveText(n(GOOD_ROWS));
  await expect(row.locator("td").nth(9)).toHaveText("2");

  // Find an imported client by searching, and open it.
  await page.goto("/clients");
  await hydrated(page);
  await page.getByLabel("Search").fill("live.001234@");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/search=live\.001234%40|search=live\.001234@/);
  const found = page.getByTestId("client-row");
  await expect(found).toHaveCount(1);
  await expect(found).toContainText("live.001234@example.com");
  await shot(page, "clients-search");
  await found.getByRole("link", { name: "live.001234@example.com" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Live001234 Client");
  await expect(page.getByTestId("client-facts")).toContainText("London");
  await expect(page.getByTestId("client-imports")).toContainText(`Created by ${title}`);
  await hydrated(page);
  await shot(page, "client");
});

test("another operator is refused the first operator's import, by page and by API", async ({
  page,
  expectedConsoleErrors,
}) => {
  await signInAs(page, OPERATOR);
  const mine = await (await page.request.get("/api/v1/imports")).json();
  // The one import the operator started, in the test before.
  expect(mine.total).toBe(1);
  const jobId = mine.items[0].id;
  await signOut(page);

  await signInAs(page, OTHER_OPERATOR);
  expectedConsoleErrors.push({ status: 403, resource: new RegExp(`^/imports/${jobId}$`) });
  const response = await page.goto(`/imports/${jobId}`);
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("alert")).toContainText("Access denied");
  await expect(page.getByTestId("import-counts")).toHaveCount(0);
  const api = await page.request.get(`/api/v1/imports/${jobId}`);
  expect(api.status()).toBe(403);
  // Nor does the list show it.
  await page.goto("/imports");
  await expect(page.getByText("No imports yet.")).toBeVisible();
});

test("a manager browses clients, accounts and an IB program's two tabs, and cannot import", async ({
  page,
}) => {
  // Accounts and IB membership for some imported clients, uploaded by the admin.
  await signInAs(page, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  for (const [action, file] of [
    [
      "import-accounts",
      "Email,Account number,Product ID,Product currency\n" +
        "live.000001@example.com,MT5-90001,3,USD\n" +
        "live.000002@example.com,MT5-90002,3,EUR\n" +
        "live.000002@example.com,MT5-90003,4,USDT\n",
    ],
    [
      "import-ibs",
      "IB Email,Client Email,IB Type ID\n" +
        "live.000001@example.com,live.000002@example.com,7\n" +
        "live.000001@example.com,live.000003@example.com,7\n",
    ],
  ]) {
    const res = await page.request.post("/api/v1/imports", {
      multipart: {
        title: action,
        action,
        file: { name: "data.csv", mimeType: "text/csv", buffer: Buffer.from(file) },
      },
    });
    expect(res.status()).toBe(202);
    const job = await res.json();
    await expect(async () => {
      const now = await (await page.request.get(`/api/v1/imports/${job.id}`)).json();
      expect(now.status).toBe("success");
    }).toPass({ timeout: 20_000 });
  }
  await signOut(page);

  await signInAs(page, MANAGER);
  await hydrated(page);
  // Clients: a full list, sortable, with no Import button.
  const all = await (await page.request.get("/api/v1/clients")).json();
  // This spec file's database holds the operator's import and nothing else.
  expect(all.total).toBe(GOOD_ROWS);
  // Past 10,000 rows the page counts no further (the API's total is exact).
  await expect(page.getByTestId("client-count")).toHaveText("More than 10,000 clients");
  await expect(page.getByRole("navigation", { name: "Pages" })).toContainText("Page 1");
  await expect(page.getByRole("link", { name: "Next →" })).toBeVisible();
  await expect(page.getByTestId("import-button")).toHaveCount(0);
  await page.getByRole("link", { name: "Email", exact: true }).click();
  await expect(page).toHaveURL(/sort=email&dir=asc/);
  await page.getByRole("link", { name: "Email ▲", exact: true }).click();
  await expect(page).toHaveURL(/sort=email&dir=desc/);
  // The last email of the whole table comes first.
  const last = await (await page.request.get("/api/v1/clients?sort=email&dir=desc")).json();
  expect(last.items[0].email).toBe(`live.${GOOD_ROWS}@example.com`);
  await expect(page.getByTestId("client-row").first()).toContainText(last.items[0].email);
  await shot(page, "clients-manager");

  // Accounts, filtered by currency.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Accounts" }).click();
  // This test's three.
  const accounts = (await (await page.request.get("/api/v1/accounts")).json()).total;
  expect(accounts).toBe(3);
  await expect(page.getByTestId("account-count")).toHaveText("3 accounts");
  await expect(page.getByTestId("import-button")).toHaveCount(0);
  await hydrated(page);
  await page.getByLabel("Currency").fill("eur");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("account-row")).toHaveCount(1);
  await expect(page.getByTestId("account-row")).toContainText("MT5-90002");
  await shot(page, "accounts");

  // The program, its Introducing Brokers tab, then its Clients tab.
  await page.goto("/ib-programs");
  const program = page.getByTestId("program-row").filter({ hasText: "Gold partners" });
  await expect(program.locator("td").nth(2)).toHaveText("1"); // partners
  await expect(program.locator("td").nth(3)).toHaveText("2"); // referrals
  await expect(page.getByRole("button", { name: "Create program" })).toHaveCount(0);
  await program.getByRole("link", { name: "Gold partners" }).click();
  await expect(page.getByRole("tab", { name: "Introducing Brokers" })).toHaveAttribute("aria-selected", "true");
  const partners = page.getByTestId("partners");
  await expect(partners).toContainText("live.000001@example.com");
  await expect(partners.locator("tbody tr")).toHaveCount(1);
  await expect(partners.locator("tbody tr td").nth(2)).toHaveText("2");
  await shot(page, "ib-program-partners");
  await page.getByRole("tab", { name: "Clients" }).click();
  await expect(page.getByRole("tab", { name: "Clients" })).toHaveAttribute("aria-selected", "true");
  const referred = page.getByTestId("referred-clients");
  await expect(referred.locator("tbody tr")).toHaveCount(2);
  await expect(referred).toContainText("live.000002@example.com");
  await expect(referred).toContainText("live.000003@example.com");
  await shot(page, "ib-program-clients");

  // Import Data: read-only, no + Create; the upload itself is refused.
  await page.goto("/imports");
  await expect(page.getByTestId("import-row").first()).toBeVisible();
  await expect(page.getByTestId("create-import")).toHaveCount(0);
  const refused = await page.request.post("/api/v1/imports", {
    multipart: {
      title: "not allowed",
      action: "import-users",
      file: { name: "c.csv", mimeType: "text/csv", buffer: Buffer.from("Email,First name\nm@example.com,M\n") },
    },
  });
  expect(refused.status()).toBe(403);
});

test("an admin sees who initiated each import, reverts one, and finds it in the audit log", async ({
  page,
  baseURL,
}) => {
  await signInAs(page, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  await page.goto("/imports");
  const operatorsRow = page.getByTestId("import-row").filter({ hasText: "Live import" });
  await expect(operatorsRow).toContainText(OPERATOR.email);
  const titled = (title: string) =>
    page.getByTestId("import-row").filter({ has: page.getByRole("link", { name: title, exact: true }) });
  await expect(titled("import-accounts")).toContainText(ADMIN_EMAIL);

  // Narrow the list to the operator's imports.
  await hydrated(page);
  await page.getByLabel("User").selectOption({ label: OPERATOR.email });
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByTestId("import-row")).toHaveCount(1);
  await shot(page, "imports-admin");

  // Revert the IB import (the smallest), after the confirmation step.
  await page.goto("/imports?action=import-ibs");
  await titled("import-ibs").getByRole("link").click();
  await expect(page).toHaveURL(/\/imports\/\d+$/);
  const jobId = page.url().split("/").pop();
  await hydrated(page);
  await page.getByText("Revert…").click();
  await page.getByRole("button", { name: "Yes, revert this import" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Reverted:" })).toContainText("records deleted");
  await expect(page.locator("h1").getByTestId("status")).toHaveText("Reverted");
  const program = await (await page.request.get("/api/v1/ib-programs")).json();
  const gold = program.items.find((p: any) => p.name === "Gold partners");
  expect(gold.partners).toBe(0);
  expect(gold.referrals).toBe(0);

  // The audit log, filtered by action, names the admin and the import.
  await page.goto("/admin/audit");
  await hydrated(page);
  await page.getByLabel("Action").selectOption("import.reverted");
  await page.getByRole("button", { name: "Filter" }).click();
  const entry = page.getByTestId("audit-row").first();
  await expect(entry).toContainText(ADMIN_EMAIL);
  await expect(entry).toContainText("import.reverted");
  await expect(entry).toContainText(`#${jobId}`);
  await shot(page, "audit-log");

  // The other admin pages: tokens (shown once) and projects with their desks.
  await page.goto("/admin/tokens");
  await hydrated(page);
  await page.getByLabel("Acts as (email)").fill(OPERATOR.email);
  await page.getByLabel("Name").fill("nightly sync");
  await page.getByRole("button", { name: "Issue token" }).click();
  await expect(page.getByTestId("new-token")).toContainText("nightly sync");
  const tokenRow = page.getByTestId("token-row").filter({ hasText: "nightly sync" });
  await expect(tokenRow).toContainText("Active");
  await shot(page, "admin-tokens");
  // The secret works once copied, as the operator it acts for, until it is revoked.
  const secret = (await page.getByTestId("new-token").locator("code").textContent())!.trim();
  const script = await request.newContext({ baseURL });
  const asScript = () =>
    script.get("/api/v1/imports", { headers: { Authorization: `Bearer ${secret}` } });
  const seen = await asScript();
  expect(seen.status()).toBe(200);
  // The operator's view: only the one import the operator started.
  expect((await seen.json()).total).toBe(1);
  await tokenRow.getByRole("button", { name: "Revoke" }).click();
  await expect(tokenRow).toContainText("Revoked");
  await expect(tokenRow.getByRole("button", { name: "Revoke" })).toHaveCount(0);
  expect((await asScript()).status()).toBe(401);
  await script.dispose();
  await page.goto("/admin/projects");
  await hydrated(page);
  await page.getByLabel("New project").fill("Asia");
  await page.getByRole("button", { name: "Create project" }).click();
  const asia = page.getByTestId("project").filter({ hasText: "Asia" });
  await expect(asia).toContainText("Desks: Default");
  await asia.getByLabel("New desk").fill("Tokyo");
  await asia.getByRole("button", { name: "Add desk" }).click();
  await expect(asia).toContainText("Desks: Default, Tokyo");
  await shot(page, "admin-projects");
});
