// A stored value that no longer decrypts (here: another record's ciphertext moved into this
// one, as a damaged or foreign value would be) is shown as such on the record page and in the
// list, in both languages and at phone width; the page works and the record is not editable.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { startServer, launch, signIn, SHOTS, PASSWORD } from "./harness.js";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
  server.cli(["user", "create", "--email", "admin@example.com", "--password", PASSWORD, "--role", "administrator", "--name", "管理员"]);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newContact(page, family, mobile) {
  await page.goto(`${server.base}/contacts/new`);
  await page.fill("input[name=family_name]", family);
  await page.fill("input[name=mobile]", mobile);
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
  return page.url().split("/").pop();
}

test("a value that does not decrypt is marked, never an error page", async () => {
  const phone = { viewport: { width: 390, height: 844 }, isMobile: true };
  const zh = await browser.newContext({ locale: "zh-CN", ...phone });
  const page = await zh.newPage();
  await signIn(page, server.base, "admin@example.com");
  const a = await newContact(page, "钱", "13800001111");
  const b = await newContact(page, "孙", "13800002222");
  // Python's standard library writes to the database beside the running server (WAL).
  execFileSync("python3", ["-c", `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE contacts SET mobile_enc = (SELECT mobile_enc FROM contacts WHERE id = ?) WHERE id = ?", (sys.argv[3], sys.argv[2]))
db.commit()
`, join(server.dir, "rapport.db"), a, b]);

  const res = await page.goto(`${server.base}/contacts/${a}`);
  assert.equal(res.status(), 200);
  assert.equal(await page.locator("#row-mobile .value").innerText(), "无法解密");
  assert.match(await page.locator(".key-fields").innerText(), /无法解密/);
  assert.match(await page.locator(".alert.error").innerText(), /无法用当前密钥解密/);
  assert.doesNotMatch(await page.content(), /13800002222/, "the other record's value never shows");
  // The record cannot be edited until the key is back.
  assert.equal(await page.locator("#row-title button").count(), 0);
  await page.screenshot({ path: join(SHOTS, "unreadable-value-zh-phone.png"), fullPage: true });
  const list = await page.goto(`${server.base}/contacts`);
  assert.equal(list.status(), 200);
  assert.equal(await page.locator("table.records tbody tr").count(), 2);

  const en = await browser.newContext({ locale: "en-US", ...phone });
  const enPage = await en.newPage();
  await signIn(enPage, server.base, "admin@example.com");
  await enPage.goto(`${server.base}/contacts/${a}`);
  assert.equal(await enPage.locator("#row-mobile .value").innerText(), "Cannot be decrypted");
  assert.match(await enPage.locator(".alert.error").innerText(), /cannot be decrypted with the loaded keys/);
  await enPage.screenshot({ path: join(SHOTS, "unreadable-value-en-phone.png"), fullPage: true });
  // The intact record reads as before.
  await enPage.goto(`${server.base}/contacts/${b}`);
  assert.match(await enPage.locator("#row-mobile .value").innerText(), /138 0000 2222|13800002222/);
  await zh.close();
  await en.close();
});
