import { writeFileSync } from "node:fs";
import { test, expect, hydrated, signIn, shot, ADMIN_EMAIL, ADMIN_PASSWORD } from "./fixtures";

// A day's ordinary use: pages without JavaScript, an impatient double click, a file that is
// too large. Each test makes the data it needs, named after its own stamp.
const STAMP = Date.now();

async function signInAdmin(page: import("@playwright/test").Page) {
  await page.goto("/login");
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page.getByTestId("current-user")).toContainText(ADMIN_EMAIL);
}

async function importedJob(page: import("@playwright/test").Page, action: string, csv: string) {
  const res = await page.request.post("/api/v1/imports", {
    multipart: {
      title: `Everyday ${action} ${STAMP}`,
      action,
      file: { name: "file.csv", mimeType: "text/csv", buffer: Buffer.from(csv) },
    },
  });
  expect(res.status(), await res.text()).toBe(202);
  const job = await res.json();
  await expect(async () => {
    const state = await (await page.request.get(`/api/v1/imports/${job.id}`)).json();
    expect(state.status).toBe("success");
  }).toPass({ timeout: 20_000 });
  return job.id as number;
}

test("the lists and pages show their rows without JavaScript", async ({ page, browser, baseURL }) => {
  await signInAdmin(page);
  const program = 700 + (STAMP % 200);
  let res = await page.request.post("/api/ib-programs/create", {
    form: { id: String(program), name: `Plain ${STAMP}` },
  });
  expect(res.status(), await res.text()).toBe(200);
  const jobId = await importedJob(
    page,
    "import-users",
    `Email,First name,Last name\nplain.ann.${STAMP}@example.com,Ann,Plain${STAMP}\n` +
      `plain.bob.${STAMP}@example.com,Bob,Plain${STAMP}\n`,
  );
  await importedJob(
    page,
    "import-ibs",
    `IB Email,Client Email,IB Type ID\nplain.ann.${STAMP}@example.com,plain.bob.${STAMP}@example.com,${program}\n`,
  );
  const found = await (await page.request.get(`/api/v1/clients?search=plain.ann.${STAMP}`)).json();
  const annId = found.items[0].id;

  // The same session, in a browser that runs no script.
  const plain = await browser.newContext({
    javaScriptEnabled: false,
    baseURL,
    storageState: await page.context().storageState(),
  });
  const tab = await plain.newPage();
  await tab.goto(`/clients?search=Plain${STAMP}`);
  await expect(tab.getByTestId("client-row")).toHaveCount(2);
  await expect(tab.getByText("Loading…")).toHaveCount(0);
  await tab.goto(`/clients/${annId}`);
  await expect(tab.locator("h1")).toContainText("Ann");
  await expect(tab.getByText(`plain.bob.${STAMP}@example.com`)).not.toHaveCount(0);
  await tab.goto("/imports");
  await expect(tab.getByTestId("import-row").filter({ hasText: `Everyday import-users ${STAMP}` })).toHaveCount(1);
  await tab.goto(`/imports/${jobId}`);
  await expect(tab.getByTestId("import-counts")).toHaveText(
    "2 of 2 rows processed: 2 created, 0 updated, 0 unchanged, 0 errors.",
  );
  await tab.goto(`/ib-programs/${program}`);
  await expect(tab.getByTestId("partners")).toContainText(`plain.ann.${STAMP}@example.com`);
  await tab.goto("/imports/new");
  await expect(tab.getByLabel("File")).toBeVisible();
  // On a phone, without a script, the links stay in view (wrapped) and no Menu button shows.
  await tab.setViewportSize({ width: 390, height: 844 });
  await expect(
    tab.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Import Data" }),
  ).toBeInViewport();
  await expect(tab.getByRole("button", { name: "Menu" })).toHaveCount(0);
  await plain.close();

  // With JavaScript, the program's tabs take the arrow keys.
  await page.goto(`/ib-programs/${program}`);
  await hydrated(page);
  const partnersTab = page.getByRole("tab", { name: "Introducing Brokers" });
  await partnersTab.focus();
  await page.keyboard.press("ArrowRight");
  await expect(page.getByRole("tab", { name: "Clients" })).toBeFocused();
  await page.keyboard.press("ArrowRight");
  await expect(partnersTab).toBeFocused();
  await page.keyboard.press("End");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/ib-programs/${program}\\?tab=clients$`));
  await expect(page.getByTestId("referred-clients")).toContainText(`plain.bob.${STAMP}@example.com`);
});

test("a double click on Upload makes one import, and the button says it is uploading", async ({ page }) => {
  await signInAdmin(page);
  await page.goto("/clients");
  await hydrated(page);
  await page.getByTestId("import-button").click();
  const dialog = page.getByRole("dialog", { name: "Import a file" });
  const title = `Twice ${STAMP}`;
  await dialog.getByLabel("Title").fill(title);
  await dialog.getByLabel("File").setInputFiles({
    name: "clients.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(`Email,First name\ntwice.${STAMP}@example.com,Twice\n`),
  });
  const button = dialog.getByRole("button", { name: "Upload and import" });
  await button.dblclick();
  await expect(page).toHaveURL(/\/imports\/\d+$/);
  const jobs = await (await page.request.get("/api/v1/imports")).json();
  expect(jobs.items.filter((j: { title: string }) => j.title === title)).toHaveLength(1);
});

test("a file over the size limit is refused in the dialog before it is sent, and by the server without JavaScript", async ({
  page,
  browser,
  baseURL,
}) => {
  await signInAdmin(page);
  await page.goto("/clients");
  await hydrated(page);
  const uploads: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/imports/upload")) uploads.push(r.url());
  });
  await page.getByTestId("import-button").click();
  const dialog = page.getByRole("dialog", { name: "Import a file" });
  await expect(dialog.getByTestId("limits").filter({ visible: true })).toContainText("and 64 MB.");
  await dialog.getByLabel("Title").fill(`Too large ${STAMP}`);
  // Over 50 MB a file goes to the browser from disk, not from memory.
  const big = Buffer.alloc(65_000_000, "a");
  big.write("Email,First name\n");
  const path = test.info().outputPath("big.csv");
  writeFileSync(path, big);
  await dialog.getByLabel("File").setInputFiles(path);
  await dialog.getByRole("button", { name: "Upload and import" }).click();
  await expect(dialog.getByTestId("upload-error")).toHaveText(
    "This file is 65 MB, over the limit of 64 MB. Split it into smaller files.",
  );
  await expect(dialog).toBeVisible();
  expect(uploads).toEqual([]);

  // Without JavaScript the file is sent; the server reads it to the end before it answers,
  // so the browser shows the form again with the reason, not a reset connection.
  const plain = await browser.newContext({
    javaScriptEnabled: false,
    baseURL,
    storageState: await page.context().storageState(),
  });
  const tab = await plain.newPage();
  await tab.goto("/imports/new");
  await tab.getByLabel("Title").fill(`Too large without script ${STAMP}`);
  await tab.getByLabel("File").setInputFiles(path);
  await tab.getByRole("button", { name: "Upload and import" }).click();
  await expect(tab).toHaveURL(/\/imports\/new\?import_error=/);
  await expect(tab.getByTestId("upload-error")).toHaveText(
    "The file is larger than the limit of 64 MB. Split it into smaller files.",
  );
  await plain.close();
  const jobs = await (await page.request.get("/api/v1/imports")).json();
  expect(jobs.items.filter((j: { title: string }) => j.title.startsWith("Too large"))).toHaveLength(0);
});

test("the Import dialog is a modal dialog that follows its Action, and Escape closes it and the bell", async ({ page }) => {
  await signInAdmin(page);
  await page.goto("/clients");
  await hydrated(page);
  const open = page.getByRole("button", { name: "Import", exact: true });
  await open.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Import a file" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("heading")).toHaveText("Import a file (import-users)");
  await expect(dialog.getByTestId("required-columns").filter({ visible: true })).toHaveText("Email, First name");
  // The rules and the template follow the Action chosen in the form.
  await dialog.getByLabel("Action").selectOption("import-accounts");
  await expect(dialog.getByRole("heading")).toHaveText("Import a file (import-accounts)");
  await expect(dialog.getByTestId("required-columns").filter({ visible: true })).toHaveText(
    "Email, Account number, Product ID, Product currency",
  );
  await expect(dialog.getByTestId("template").filter({ visible: true })).toHaveAttribute("href", "/templates/import-accounts.csv");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(open).toBeFocused();
  await open.click();
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(dialog).toBeHidden();

  // The bell closes on Escape and on a click elsewhere.
  const bell = page.getByTestId("bell");
  const panel = bell.locator(".bell-panel");
  await bell.locator("summary").click();
  await expect(panel).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(panel).toBeHidden();
  await expect(bell.locator("summary")).toBeFocused();
  await bell.locator("summary").click();
  await expect(panel).toBeVisible();
  await page.locator("h1").click();
  await expect(panel).toBeHidden();
});

test("on a phone and a tablet the bar wraps, Sign out stays in view and only tables scroll sideways", async ({
  page,
}) => {
  await signInAdmin(page);
  for (const width of [390, 768]) {
    await page.setViewportSize({ width, height: 844 });
    for (const path of ["/clients", "/accounts", "/ib-programs", "/imports", "/imports/new", "/admin/users", "/admin/audit"]) {
      await page.goto(path);
      const sideways = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(sideways, `${path} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0);
      await expect(page.getByRole("button", { name: "Sign out" }), `${path} at ${width} px`).toBeInViewport();
      const nav = page.getByRole("navigation", { name: "Main" });
      const link = nav.getByRole("link", { name: "Import Data" });
      if (width < 640) {
        // On a phone the links fold under Menu, which opens and closes them.
        await hydrated(page);
        const menu = page.getByRole("button", { name: "Menu" });
        await expect(link, `${path} at ${width} px`).toBeHidden();
        await expect(menu).toHaveAttribute("aria-expanded", "false");
        await menu.click();
        await expect(menu).toHaveAttribute("aria-expanded", "true");
        await expect(link, `${path} at ${width} px`).toBeInViewport();
        const sideways = await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        expect(sideways, `${path} at ${width} px, menu open`).toBeLessThanOrEqual(0);
        await menu.click();
        await expect(link).toBeHidden();
      } else {
        await expect(page.getByRole("button", { name: "Menu" })).toBeHidden();
        await expect(link, `${path} at ${width} px`).toBeInViewport();
      }
    }
    await hydrated(page);
    await page.getByTestId("bell").locator("summary").click();
    await expect(page.getByTestId("bell").locator(".bell-panel"), `the bell at ${width} px`).toBeInViewport({
      ratio: 1,
    });
    await page.keyboard.press("Escape");
  }
  // On the phone the dialog takes the screen's width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/clients");
  await hydrated(page);
  await shot(page, "phone-clients");
  await page.getByRole("button", { name: "Import", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Import a file" });
  await expect(dialog).toBeVisible();
  const box = await dialog.boundingBox();
  expect(box && box.x === 0 && box.width === 390, JSON.stringify(box)).toBe(true);
  await page.screenshot({ path: "screenshots/phone-import-dialog.png" });
});

/** Presses Tab (or Shift+Tab, `back`) until `target` has the focus: it fails when the
 * keys never get there. */
async function tabTo(
  page: import("@playwright/test").Page,
  target: import("@playwright/test").Locator,
  direction: "forward" | "back" = "forward",
) {
  for (let presses = 0; presses < 80; presses++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press(direction === "back" ? "Shift+Tab" : "Tab");
  }
  throw new Error(`Tab never reached ${target}`);
}

test("an operator signs in, imports a file, follows the bell to its details, all by keyboard", async ({
  page,
  browser,
  baseURL,
}) => {
  const operator = { email: `keys.operator.${STAMP}@example.com`, password: "keys-operator-password-1" };
  const admin = await browser.newContext({ baseURL });
  const adminPage = await admin.newPage();
  await signInAdmin(adminPage);
  const res = await adminPage.request.post("/api/admin/users/create", {
    form: { email: operator.email, role: "operator", password: operator.password },
  });
  expect(res.status(), await res.text()).toBe(200);
  await admin.close();

  // Sign in: the email field has the focus; Tab to the password, Enter sends the form.
  await page.goto("/login");
  await hydrated(page);
  await expect(page.getByLabel("Email")).toBeFocused();
  await page.keyboard.type(operator.email);
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Password")).toBeFocused();
  await page.keyboard.type(operator.password);
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("current-user")).toContainText(operator.email);

  // Each page that loads puts the focus on its heading.
  await hydrated(page);
  await expect(page.locator("main h1")).toBeFocused();
  const nav = page.getByRole("navigation", { name: "Main" });
  await tabTo(page, nav.getByRole("link", { name: "Clients" }), "back");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/clients$/);
  await hydrated(page);
  await expect(page.locator("main h1")).toBeFocused();

  // Import: the dialog opens on Enter and keeps the focus inside it.
  await tabTo(page, page.getByTestId("import-button"));
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Import a file" });
  await expect(dialog).toBeVisible();
  const title = `By keyboard ${STAMP}`;
  await tabTo(page, dialog.getByLabel("Title"));
  await page.keyboard.type(title);
  await tabTo(page, dialog.getByLabel("File"));
  const chooser = page.waitForEvent("filechooser");
  await page.keyboard.press("Space");
  await (await chooser).setFiles({
    name: "clients.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(`Email,First name,Last name\nkeys.${STAMP}@example.com,Keys,Board${STAMP}\n`),
  });
  await tabTo(page, dialog.getByRole("button", { name: "Upload and import" }));
  await page.keyboard.press("Enter");

  // The job's page: it finishes without a reload, and the bell rings.
  await expect(page).toHaveURL(/\/imports\/\d+$/);
  const jobUrl = page.url();
  await hydrated(page);
  await expect(page.locator("main h1")).toBeFocused();
  await expect(page.getByTestId("import-counts")).toHaveText(
    "1 of 1 rows processed: 1 created, 0 updated, 0 unchanged, 0 errors.",
  );
  await expect(page.getByTestId("bell-count")).toHaveText("1");

  // The bell opens on Enter; its note's Details link leads to the import.
  const bell = page.getByTestId("bell");
  await tabTo(page, bell.locator("summary"), "back");
  await page.keyboard.press("Enter");
  const note = bell.getByTestId("notification").filter({ hasText: title });
  await expect(note).toBeVisible();
  await tabTo(page, note.getByRole("link", { name: "Details" }));
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(jobUrl);
  await hydrated(page);
  await expect(page.locator("main h1")).toBeFocused();
  await expect(page.locator("main h1")).toContainText(title);
});
