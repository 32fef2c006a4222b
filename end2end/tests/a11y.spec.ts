import AxeBuilder from "@axe-core/playwright";
import { test, expect, hydrated, signIn, ADMIN_EMAIL, ADMIN_PASSWORD } from "./fixtures";
import type { Page } from "@playwright/test";

// axe-core's WCAG 2.1 A and AA rules on every page and state a person meets.
const STAMP = Date.now();
const OPERATOR = { email: `axe.operator.${STAMP}@example.com`, password: "axe-operator-password-1" };

async function noViolations(page: Page, what: string) {
  const result = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  const found = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
  expect(found, `${what}: accessibility violations`).toEqual([]);
}

test("every page and state passes axe's WCAG 2.1 AA rules", async ({ page, expectedConsoleErrors }) => {
  test.setTimeout(180_000);
  // The operator's refused Admin page answers 403, which the browser logs.
  expectedConsoleErrors.push({ status: 403, resource: /^\/admin\/users$/ });
  // The 404 pages answer 404.
  expectedConsoleErrors.push({ status: 404, resource: /^\/no-such-page$/ }, { status: 404, resource: /^\/clients\/999999$/ });
  await page.goto("/login");
  await hydrated(page);
  await noViolations(page, "sign-in");
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page.getByTestId("current-user")).toContainText(ADMIN_EMAIL);

  // Something on every list.
  const program = 500 + (STAMP % 200);
  let res = await page.request.post("/api/ib-programs/create", {
    form: { id: String(program), name: `Axe ${STAMP}` },
  });
  expect(res.status(), await res.text()).toBe(200);
  res = await page.request.post("/api/admin/users/create", {
    form: { email: OPERATOR.email, role: "operator", password: OPERATOR.password },
  });
  expect(res.status(), await res.text()).toBe(200);
  const upload = async (action: string, csv: string) => {
    const r = await page.request.post("/api/v1/imports", {
      multipart: {
        title: `Axe ${action} ${STAMP}`,
        action,
        file: { name: "axe.csv", mimeType: "text/csv", buffer: Buffer.from(csv) },
      },
    });
    expect(r.status(), await r.text()).toBe(202);
    const job = await r.json();
    await expect(async () => {
      const state = await (await page.request.get(`/api/v1/imports/${job.id}`)).json();
      expect(["success", "success_with_errors"]).toContain(state.status);
    }).toPass({ timeout: 20_000 });
    return job.id as number;
  };
  const clientsJob = await upload(
    "import-users",
    `Email,First name,Last name,Country\naxe.ann.${STAMP}@example.com,Ann,Axe,GB\n` +
      `axe.bob.${STAMP}@example.com,Bob,Axe,Atlantis\naxe.cy.${STAMP}@example.com,Cy,Axe,FR\n`,
  );
  await upload(
    "import-accounts",
    `Email,Account number,Product ID,Product currency\naxe.ann.${STAMP}@example.com,AX${STAMP},1,USD\n`,
  );
  await upload(
    "import-ibs",
    `IB Email,Client Email,IB Type ID\naxe.ann.${STAMP}@example.com,axe.cy.${STAMP}@example.com,${program}\n`,
  );
  const found = await (await page.request.get(`/api/v1/clients?search=axe.ann.${STAMP}`)).json();
  const ann = found.items[0].id;

  for (const path of [
    "/clients",
    `/clients/${ann}`,
    "/accounts",
    "/ib-programs",
    `/ib-programs/${program}`,
    `/ib-programs/${program}?tab=clients`,
    "/imports",
    `/imports/${clientsJob}`,
    "/imports/new",
    "/account",
    "/admin/users",
    "/admin/tokens",
    "/admin/projects",
    "/admin/audit",
    "/no-such-page",
    "/clients/999999",
  ]) {
    await page.goto(path);
    await hydrated(page);
    await noViolations(page, path);
  }

  // Open dialogs and panels.
  await page.goto("/clients");
  await hydrated(page);
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await expect(page.getByRole("dialog", { name: "Import a file" })).toBeVisible();
  await noViolations(page, "the Import dialog");
  await page.keyboard.press("Escape");
  await page.getByTestId("bell").locator("summary").click();
  await expect(page.getByTestId("bell").locator(".bell-panel")).toBeVisible();
  await noViolations(page, "the open bell");

  // An operator refused an Admin page.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await signIn(page, OPERATOR.email, OPERATOR.password);
  await expect(page.getByTestId("current-user")).toContainText(OPERATOR.email);
  await page.goto("/admin/users");
  await hydrated(page);
  await expect(page.getByText("Access denied")).toBeVisible();
  await noViolations(page, "403");
});
