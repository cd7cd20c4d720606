// The import wizard in a real browser: upload a GBK CSV as Excel in China saves it, see the
// suggested mapping, check it, import, download the error file, fix the failed row in it and
// import that file too; the wizard in English.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { startServer, launch, signIn, SHOTS } from "./harness.js";

let server, browser, dir;
before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "zhou.jie@example.com", "--password", "correct horse battery staple", "--role", "sales_rep", "--name", "周杰"]);
  browser = await launch();
  dir = mkdtempSync(join(tmpdir(), "rapport-import-"));
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/// Write `text` as GBK (the encoding Excel uses for CSV on Chinese Windows).
function gbkFile(name, text) {
  const path = join(dir, name);
  execFileSync("python3", ["-c", "import sys; open(sys.argv[1], 'wb').write(sys.argv[2].encode('gbk'))", path, text]);
  return path;
}

async function waitForStatus(page, status) {
  for (let i = 0; i < 60; i++) {
    if ((await page.locator(".import-status").getAttribute("data-status")) === status) return;
    await page.waitForTimeout(500);
    await page.reload();
  }
  throw new Error(`import did not reach ${status}`);
}

test("import a GBK CSV, fix the failed row from the error file, import it again", async () => {
  const base = server.base;
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  await signIn(page, base, "zhou.jie@example.com");

  const file = gbkFile("客户联系人.csv",
    "姓,名,手机,邮箱,职务\n" +
    "孙,丽,13911112222,sunli@fabric.example,采购经理\n" +
    "钱,多,139-1111,qianduo@fabric.example,财务\n" +
    "吴,昊,13733334444,wuhao@fabric.example,工程师\n");
  await page.goto(`${base}/contacts`);
  await page.click("a.import-link");
  await page.waitForURL(/\/imports\?object=contacts/);
  await page.setInputFiles("form.upload-form input[type=file]", file);
  await page.click("form.upload-form button.primary");
  await page.waitForURL(/\/imports\/[0-9a-f-]{36}$/);

  // Suggested from the Chinese column names.
  assert.equal(await page.inputValue("select[name='col.0']"), "family_name");
  assert.equal(await page.inputValue("select[name='col.2']"), "mobile");
  assert.equal(await page.inputValue("select[name='col.4']"), "title");
  assert.match(await page.locator("table.preview").innerText(), /孙[\s\S]*采购经理/);
  await page.screenshot({ path: join(SHOTS, "import-mapping-zh.png"), fullPage: true });

  // The check writes nothing and finds the bad phone number.
  await page.click("button[value=dry]");
  await waitForStatus(page, "dry_done");
  assert.equal(await page.locator("[data-count=created]").innerText(), "2");
  assert.equal(await page.locator("[data-count=failed]").innerText(), "1");
  assert.match(await page.locator("table.import-errors").innerText(), /3[\s\S]*mobile/);

  await page.click("button[value=start]");
  await waitForStatus(page, "done");
  assert.equal(await page.locator("[data-count=created]").innerText(), "2");
  await page.screenshot({ path: join(SHOTS, "import-done-zh.png"), fullPage: true });

  // The error file: the failed row as it was, with the reason.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("a.error-file")]);
  const errorPath = join(dir, "errors.csv");
  await download.saveAs(errorPath);
  const errors = readFileSync(errorPath, "utf8").replace(/^\uFEFF/, "");
  const lines = errors.trim().split(/\r?\n/);
  assert.equal(lines[0], "姓,名,手机,邮箱,职务,错误原因 / Error");
  assert.match(lines[1], /^钱,多,139-1111,qianduo@fabric.example,财务,mobile/);

  // Fix the number in the error file and import it: the extra reason column is left out.
  writeFileSync(errorPath, "\uFEFF" + errors.replace("139-1111", "13955556666"));
  await page.goto(`${base}/imports?object=contacts`);
  await page.setInputFiles("form.upload-form input[type=file]", errorPath);
  await page.click("form.upload-form button.primary");
  await page.waitForURL(/\/imports\/[0-9a-f-]{36}$/);
  assert.equal(await page.inputValue("select[name='col.5']"), "");
  await page.click("button[value=start]");
  await waitForStatus(page, "done");
  assert.equal(await page.locator("[data-count=created]").innerText(), "1");
  assert.equal(await page.locator("[data-count=failed]").innerText(), "0");

  // The notification of the finished import leads back to it.
  await page.goto(`${base}/notifications`);
  assert.match(await page.locator("main").innerText(), /导入完成/);
  assert.ok(await page.locator("a[href^='/imports/']").count() > 0);

  await page.goto(`${base}/contacts`);
  const list = await page.locator("table.records").innerText();
  for (const name of ["孙丽", "钱多", "吴昊"]) assert.match(list, new RegExp(name));
  await context.close();
});

test("the import pages in English", async () => {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await signIn(page, server.base, "zhou.jie@example.com");
  await page.goto(`${server.base}/imports`);
  assert.match(await page.locator("h1").innerText(), /Import/);
  assert.match(await page.locator("table.records").innerText(), /Done/);
  await page.click("table.records a >> nth=0");
  assert.match(await page.locator("section.counts").innerText(), /Import result[\s\S]*Created/);
  await page.screenshot({ path: join(SHOTS, "import-en.png"), fullPage: true });
  await context.close();
});
