// Starts a real Rapport server with a fresh SQLite database, and headless Chromium.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.RAPPORT_BIN || join(here, "..", "target", "debug", "rapport");
export const PASSWORD = "correct horse battery staple";
export const SHOTS = join(here, "screenshots");
mkdirSync(SHOTS, { recursive: true });

export async function startServer(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), "rapport-e2e-"));
  const env = { PATH: process.env.PATH, RAPPORT_DATA_DIR: dir, RAPPORT_LOG: "warn", ...extraEnv };
  const child = spawn(BIN, ["serve", "--listen", "127.0.0.1:0"], { env, cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
  const base = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("server did not start")), 30000);
    child.stdout.on("data", (d) => {
      buf += d.toString();
      const m = buf.match(/listening on (http\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    base, dir,
    cli(args) { return execFileSync(BIN, args, { env, cwd: dir }).toString(); },
    async stop() { child.kill("SIGTERM"); await new Promise((r) => child.on("exit", r)); rmSync(dir, { recursive: true, force: true }); },
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
}

export async function signIn(page, base, email) {
  await page.goto(`${base}/login`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("form[action='/login'] button.primary");
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}

// A JSON API call from a signed-in page, with the page's CSRF token: { status, body }.
export async function api(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const csrf = document.querySelector("input[name=csrf]")?.value || "";
    const res = await fetch(path, { method, headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, [method, path, body]);
}
