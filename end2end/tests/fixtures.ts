import { test as base, expect, Page } from "@playwright/test";

export { expect };

type Fixtures = {
  /** Console errors a test expects (e.g. the 403 of a page it must be refused); all others fail it. */
  expectedConsoleErrors: RegExp[];
};

/** Every test fails on a browser console error or an uncaught exception: that is how a
 * hydration mismatch or a broken page shows. */
export const test = base.extend<Fixtures>({
  expectedConsoleErrors: async ({}, use) => {
    await use([]);
  },
  page: async ({ page, expectedConsoleErrors }, use) => {
    const errors: string[] = [];
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on("pageerror", (err) => errors.push(`${page.url()}: uncaught ${err.message}`));
    await use(page);
    const unexpected = errors.filter((e) => !expectedConsoleErrors.some((re) => re.test(e)));
    expect(unexpected, "browser console errors").toEqual([]);
  },
});

/** Waits until the page has hydrated (the app marks <body data-hydrated>). */
export async function hydrated(page: Page) {
  await page.waitForSelector("body[data-hydrated]", { state: "attached" });
}

export async function signIn(page: Page, email: string, password: string) {
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
}
