import { test as base, expect, Page } from "@playwright/test";
import { ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";

export { expect };

export const ADMIN_EMAIL = "admin@example.com";
export const ADMIN_PASSWORD = "e2e-admin-password";

/** The server under test: a freshly built binary. */
const SERVER_BIN = process.env.E2E_SERVER_BIN ?? "../target/debug/server";
const SITE_ROOT = process.env.E2E_SITE_ROOT ?? "../target/site";

/** What every spec file's server is started with, besides its own port and database. */
const SERVER_ENV: Record<string, string> = {
  LEPTOS_SITE_ROOT: SITE_ROOT,
  LEPTOS_OUTPUT_NAME: "crm",
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  COOKIE_SECURE: "false",
  // Room for the file that is still running when its page opens (roles.spec.ts).
  IMPORT_MAX_ROWS: "1000000",
  IMPORT_MAX_BYTES: "64000000",
  // Every test signs in from 127.0.0.1: room for a whole spec file within a minute.
  SIGN_IN_PER_ADDRESS: "120/1m",
  RUST_LOG: "warn",
};

/** One spec file's server: its own process, port and SQLite database, so that no spec
 * file sees another's data and they pass in any order, alone or in shards. */
type Server = { file: string; url: string; child: ChildProcess; dir: string; log: string };

/** The server of the spec file that is running in this worker (files run one after the
 * other in a worker; each worker is its own process, with its own servers). */
let current: Server | null = null;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "(no output)";
  }
}

async function start(file: string): Promise<Server> {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(`no server binary at ${SERVER_BIN}: build it first (cargo leptos build)`);
  }
  const port = await freePort();
  const dir = path.join(".data", `${path.basename(file, ".spec.ts")}-${port}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const log = path.join(dir, "server.log");
  const out = createWriteStream(log);
  const child = spawn(SERVER_BIN, [], {
    env: {
      ...process.env,
      ...SERVER_ENV,
      DATABASE_URL: `sqlite://${dir}/e2e.db?mode=rwc`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the server for ${file} exited with ${child.exitCode}:\n${tail(log)}`);
    }
    try {
      if ((await fetch(`${url}/login`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the server for ${file} did not answer within 60 s:\n${tail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { file, url, child, dir, log };
}

async function stop(server: Server) {
  if (server.child.exitCode === null) {
    const exited = new Promise((r) => server.child.once("exit", r));
    server.child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.child.exitCode === null) server.child.kill("SIGKILL");
  }
  if (!process.env.E2E_KEEP_DATA) rmSync(server.dir, { recursive: true, force: true });
}

/** The server of `file`, started on its first test; the previous file's is stopped. */
async function serverFor(file: string): Promise<Server> {
  if (current?.file === file) return current;
  if (current) await stop(current);
  current = null;
  current = await start(file);
  return current;
}

/** A refusal a test causes on purpose, which the browser logs as a console error: the
 * HTTP status and the resource that answers it (matched against the resource's URL). */
export type ExpectedRefusal = { status: number; resource: RegExp };

type Fixtures = {
  /** The refusals a test expects; every other console error fails it, and so does an
   * expected refusal that never happens. */
  expectedConsoleErrors: ExpectedRefusal[];
};

/** A console error as the browser logs a refused resource: "Failed to load resource: the
 * server responded with a status of 403 (Forbidden)", located at the resource's URL. */
type ConsoleError = { text: string; status: number | null; resource: string; page: string };

function isExpected(e: ConsoleError, r: ExpectedRefusal): boolean {
  return e.status === r.status && r.resource.test(new URL(e.resource, e.page).pathname);
}

type WorkerFixtures = {
  /** Stops this worker's last server when the worker ends. */
  servers: void;
};

/** Every test fails on a browser console error or an uncaught exception: that is how a
 * hydration mismatch or a broken page shows. */
export const test = base.extend<Fixtures, WorkerFixtures>({
  servers: [
    async ({}, use) => {
      await use();
      if (current) await stop(current);
      current = null;
    },
    { scope: "worker", auto: true },
  ],
  baseURL: async ({}, use, testInfo) => {
    await use((await serverFor(testInfo.file)).url);
  },
  expectedConsoleErrors: async ({}, use) => {
    await use([]);
  },
  page: async ({ page, expectedConsoleErrors }, use) => {
    const errors: ConsoleError[] = [];
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const status = /^Failed to load resource: the server responded with a status of (\d{3})\b/.exec(msg.text());
      errors.push({
        text: msg.text(),
        status: status ? Number(status[1]) : null,
        resource: msg.location().url || page.url(),
        page: page.url(),
      });
    });
    page.on("pageerror", (err) =>
      errors.push({ text: `uncaught ${err.message}`, status: null, resource: page.url(), page: page.url() }),
    );
    await use(page);
    const unexpected = errors
      .filter((e) => !expectedConsoleErrors.some((r) => isExpected(e, r)))
      .map((e) => `${e.page}: ${e.text} (${e.resource})`);
    expect(unexpected, "browser console errors").toEqual([]);
    const missing = expectedConsoleErrors
      .filter((r) => !errors.some((e) => isExpected(e, r)))
      .map((r) => `${r.status} from ${r.resource}`);
    expect(missing, "refusals the test expected and the browser never logged").toEqual([]);
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
