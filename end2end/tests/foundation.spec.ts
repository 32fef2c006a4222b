import { test, expect, hydrated, signIn, shot, ADMIN_EMAIL, ADMIN_PASSWORD } from "./fixtures";

const OPERATOR_EMAIL = "operator.one@example.com";
const OPERATOR_PASSWORD = "operator-password-1";

test("an admin creates an operator, who is not offered Admin and is refused its URL", async ({
  page,
  expectedConsoleErrors,
}) => {
  // Asking for an admin page while signed out leads to sign-in, then back to that page.
  await page.goto("/admin/users");
  await expect(page).toHaveURL(/\/login\?next=\/admin\/users$/);
  await expect(page.getByRole("heading", { name: "Back office" })).toBeVisible();
  await hydrated(page);
  await shot(page, "sign-in");
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();
  await expect(page.getByTestId("current-user")).toContainText(ADMIN_EMAIL);
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" })).toBeVisible();

  // Create the operator.
  await hydrated(page);
  await page.getByLabel("Email", { exact: true }).fill(OPERATOR_EMAIL);
  await page.getByLabel("Role", { exact: true }).selectOption("operator");
  await page.getByLabel("Password", { exact: true }).fill(OPERATOR_PASSWORD);
  await page.getByRole("button", { name: "Create user" }).click();
  const row = page.getByTestId("users-table").locator(`tr[data-email="${OPERATOR_EMAIL}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByRole("combobox")).toHaveValue("operator");
  await expect(row).toContainText("Active");
  await expect(page.getByLabel("Email", { exact: true })).toHaveValue("");
  await shot(page, "admin-users");

  // Sign out.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);

  // Sign in as the operator: Clients is the landing page, Admin is not offered.
  await signIn(page, OPERATOR_EMAIL, OPERATOR_PASSWORD);
  await expect(page).toHaveURL(/\/clients$/);
  await expect(page.getByRole("heading", { name: "Clients" })).toBeVisible();
  await expect(page.getByTestId("current-user")).toContainText(OPERATOR_EMAIL);
  await expect(page.getByTestId("current-user")).toContainText("Operator");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Clients" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await hydrated(page);
  await shot(page, "clients");

  // Every section of the navigation opens.
  for (const [link, heading] of [
    ["Accounts", "Accounts"],
    ["IB Programs", "IB Programs"],
    ["Import Data", "Import Data"],
    ["Clients", "Clients"],
  ]) {
    await nav.getByRole("link", { name: link }).click();
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
  }

  // Typing the Admin URL is refused by the server (403) and the page says so.
  expectedConsoleErrors.push({ status: 403, resource: /^\/admin\/users$/ });
  const response = await page.goto("/admin/users");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("alert")).toContainText("Access denied");
  await expect(page.getByTestId("users-table")).toHaveCount(0);
  await hydrated(page);
  await shot(page, "admin-refused");

  // The operator changes their own password on My account (their email in the top bar).
  await page.getByTestId("current-user").getByRole("link", { name: OPERATOR_EMAIL }).click();
  await expect(page.getByRole("heading", { name: "My account" })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Current password").fill(OPERATOR_PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill("operator-passphrase-2");
  await page.getByLabel("New password again").fill("operator-passphrase-2");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("password-changed")).toHaveText("Your password has been changed.");
  await expect(page.getByLabel("Current password")).toHaveValue("");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await signIn(page, OPERATOR_EMAIL, "operator-passphrase-2");
  await expect(page).toHaveURL(/\/clients$/);
});

test("a wrong password is refused with a message that does not say which part was wrong", async ({
  page,
  expectedConsoleErrors,
}) => {
  // The refused sign-ins answer 401, which the browser logs.
  expectedConsoleErrors.push({ status: 401, resource: /^\/api\/login$/ });
  await page.goto("/login");
  await signIn(page, ADMIN_EMAIL, "not-the-password");
  await expect(page.getByRole("alert")).toHaveText("Incorrect email or password.");
  await signIn(page, "nobody@example.com", "not-the-password");
  await expect(page.getByRole("alert")).toHaveText("Incorrect email or password.");
  await expect(page).toHaveURL(/\/login/);
});
