// A background export in a real browser: from the filtered accounts list (zh-CN), "后台导出"
// starts it, the exports page shows its progress until it is ready, the download holds the
// filtered accounts as CSV with a BOM; the page in English.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { startServer, launch, signIn, SHOTS } from "./harness.js";

let server, browser;
const PW = "correct horse battery staple";
before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "han.mei@example.com", "--password", PW, "--role", "sales_rep", "--name", "韩梅"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("export a filtered list in the background and download it", async () => {
  const base = server.base;
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  await signIn(page, base, "han.mei@example.com");
  for (const name of ["深圳湾科技有限公司", "深圳前海物流有限公司", "广州塔传媒有限公司"]) {
    const res = await page.evaluate(async (name) => {
      const csrf = document.querySelector("input[name=csrf]")?.value || "";
      const r = await fetch("/api/v1/accounts", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify({ name }) });
      return r.status;
    }, name);
    assert.equal(res, 201);
  }
  await page.goto(`${base}/accounts?q=${encodeURIComponent("深圳")}`);
  await page.click("a.export-background");
  await page.waitForURL(/\/exports\?started=/);
  assert.match(await page.locator(".alert.ok").innerText(), /导出已在后台开始/);
  // The page refreshes itself until the file is ready.
  await page.locator("tr[data-status=done]").waitFor({ timeout: 30000 });
  const row = page.locator("tr[data-status=done]");
  assert.match(await row.innerText(), /已完成[\s\S]*100%[\s\S]*2 \/ 2/);
  assert.equal(await row.locator("progress").evaluate((p) => p.position), 1);
  assert.equal(await page.locator("main [style]").count(), 0);
  await page.screenshot({ path: join(SHOTS, "exports-zh.png"), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent("download"), row.locator("a.download").click()]);
  assert.match(download.suggestedFilename(), /^accounts-\d{8}-\d{4}\.csv$/);
  const bytes = await readFile(await download.path());
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  const text = bytes.subarray(3).toString("utf8");
  assert.match(text, /深圳湾科技有限公司/);
  assert.match(text, /深圳前海物流有限公司/);
  assert.doesNotMatch(text, /广州塔传媒/, "the list's filter holds");

  // In English, from the user menu's page.
  await context.close();
  const en = await browser.newContext({ locale: "en-US", viewport: { width: 1400, height: 900 } });
  const p2 = await en.newPage();
  await signIn(p2, base, "han.mei@example.com");
  await p2.goto(`${base}/exports`);
  assert.equal(await p2.locator("h1").innerText(), "Exports");
  assert.match(await p2.locator("tr[data-status=done]").innerText(), /Ready[\s\S]*Download/);
  await en.close();
});
