import { test, expect, hydrated, signIn, shot, ADMIN_EMAIL, ADMIN_PASSWORD } from "./fixtures";

// A user limited to one project's desks, as an admin sets it on Admin → Users.
const DESK_USER = { email: "dora.desk@example.com", password: "dora-desk-password-1" };
const STAMP = Date.now();
const PROJECT = "Latam";

test("an admin limits a manager to one project, who then sees and exports only its clients", async ({ page }) => {
  await page.goto("/login");
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page.getByTestId("current-user")).toContainText(ADMIN_EMAIL);
  let res = await page.request.post("/api/admin/projects/create", { form: { name: PROJECT } });
  expect(res.status(), await res.text()).toBe(200);
  res = await page.request.post("/api/admin/users/create", {
    form: { email: DESK_USER.email, role: "manager", password: DESK_USER.password },
  });
  expect(res.status(), await res.text()).toBe(200);
  // One client in the new project, one in the Default project.
  res = await page.request.post("/api/v1/imports", {
    multipart: {
      title: `Two regions ${STAMP}`,
      action: "import-users",
      file: {
        name: "regions.csv",
        mimeType: "text/csv",
        buffer: Buffer.from(
          `Email,First name,Last name,Project\n` +
            `in.asia.${STAMP}@example.com,Inasia,Desk${STAMP},${PROJECT}\n` +
            `in.europe.${STAMP}@example.com,Ineurope,Desk${STAMP},Default\n`,
        ),
      },
    },
  });
  expect(res.status(), await res.text()).toBe(202);
  const job = await res.json();
  await expect(async () => {
    const state = await (await page.request.get(`/api/v1/imports/${job.id}`)).json();
    expect(state.status).toBe("success");
  }).toPass({ timeout: 20_000 });

  // Admin → Users: the manager sees every desk until limited.
  await page.goto("/admin/users");
  await hydrated(page);
  const row = page.locator(`tr[data-email="${DESK_USER.email}"]`);
  await expect(row.getByTestId("user-desks")).toHaveText("Every desk");
  await row.getByText("Limit desks…").click();
  await row.getByRole("checkbox", { name: `${PROJECT} (all desks)` }).check();
  await row.getByRole("button", { name: "Save desks" }).click();
  await expect(row.getByTestId("user-desks")).toHaveText(`${PROJECT} (all desks)`);
  await shot(page, "admin-users-desks");

  // The manager sees the project's client and not the other one, on the page and in the
  // export.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await signIn(page, DESK_USER.email, DESK_USER.password);
  await expect(page.getByTestId("current-user")).toContainText(DESK_USER.email);
  await page.goto(`/clients?search=Desk${STAMP}`);
  await hydrated(page);
  const rows = page.getByTestId("client-row");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(`in.asia.${STAMP}@example.com`);
  const exported = await page.request.get(`/api/v1/clients.csv?search=Desk${STAMP}`);
  expect(exported.status()).toBe(200);
  const csv = await exported.text();
  expect(csv).toContain(`in.asia.${STAMP}@example.com`);
  expect(csv).not.toContain(`in.europe.${STAMP}@example.com`);
});
