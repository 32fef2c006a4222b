import { defineConfig } from "@playwright/test";

// The server under test: a freshly built binary on its own port with a new SQLite file.
const port = Number(process.env.E2E_PORT ?? 3100);
const serverBin = process.env.E2E_SERVER_BIN ?? "../target/debug/server";

export const ADMIN_EMAIL = "admin@example.com";
export const ADMIN_PASSWORD = "e2e-admin-password";

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        browserName: "chromium",
        viewport: { width: 1280, height: 800 },
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
          ],
        },
      },
    },
  ],
  webServer: {
    command: `rm -rf .data && mkdir -p .data && exec ${serverBin}`,
    url: `http://127.0.0.1:${port}/login`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      DATABASE_URL: "sqlite://.data/e2e.db?mode=rwc",
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: process.env.E2E_SITE_ROOT ?? "../target/site",
      LEPTOS_OUTPUT_NAME: "crm",
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
      COOKIE_SECURE: "false",
      // Room for the file that is still running when its page opens (roles.spec.ts).
      IMPORT_MAX_ROWS: "1000000",
      IMPORT_MAX_BYTES: "64000000",
      // Every test signs in from 127.0.0.1: room for the whole suite within a minute.
      SIGN_IN_PER_ADDRESS: "120/1m",
      RUST_LOG: "warn",
    },
  },
});
