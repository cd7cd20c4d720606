// First-run setup, sign-in errors, the security page (MFA enrolment with a QR code,
// sessions), and the administrator's audit page, in both languages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, launch, SHOTS, PASSWORD } from "./harness.js";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("first run, sign-in, security page and audit log", async () => {
  const context = await browser.newContext({ locale: "en-US" });
  const page = await context.newPage();
  const base = server.base;

  // No users yet: every page leads to the one-time setup page (English from Accept-Language).
  await page.goto(`${base}/accounts`);
  await page.waitForURL(/\/setup$/);
  assert.equal(await page.locator("h1").innerText(), "Welcome to Rapport");
  await page.fill("input[name=name]", "Ada Admin");
  await page.fill("input[name=email]", "ada@example.com");
  await page.fill("input[name=password]", "short");
  // The browser enforces minlength; bypass it to see the server's answer too.
  await page.$eval("input[name=password]", (el) => el.removeAttribute("minlength"));
  await page.click("form[action='/setup'] button.primary");
  assert.match(await page.locator(".alert.error").innerText(), /12 characters/);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("form[action='/setup'] button.primary");
  await page.waitForURL(/\/login$/);
  // Setup is gone once there is a user.
  await page.goto(`${base}/setup`);
  await page.waitForURL(/\/login$/);

  // A wrong password shows one generic message.
  await page.fill("input[name=email]", "ada@example.com");
  await page.fill("input[name=password]", "not the password");
  await page.click("form[action='/login'] button.primary");
  assert.equal(await page.locator(".alert.error").innerText(), "The email or password is not correct");
  await page.fill("input[name=password]", PASSWORD);
  await page.click("form[action='/login'] button.primary");
  await page.waitForURL(`${base}/`);

  // Security page: sessions and MFA enrolment with a QR code.
  await page.goto(`${base}/me/security`);
  assert.equal(await page.locator("table.records .badge").first().innerText(), "This session");
  await page.fill("form[action='/me/mfa/enroll'] input[name=current_password]", PASSWORD);
  await page.click("form[action='/me/mfa/enroll'] button");
  const qr = page.locator("img.qr");
  assert.equal(await qr.count(), 1);
  assert.match(await qr.getAttribute("src"), /^data:image\/svg\+xml;base64,/);
  const box = await qr.boundingBox();
  assert.ok(box && box.width >= 150, "the QR code is rendered");
  await page.screenshot({ path: join(SHOTS, "security-mfa-en.png"), fullPage: true });

  // An API token is shown once.
  await page.fill("form[action='/me/tokens'] input[name=name]", "reporting");
  await page.click("form[action='/me/tokens'] button.primary");
  assert.match(await page.locator("code.token").innerText(), /^rpt_/);
  await page.goto(`${base}/me/security`);
  assert.equal(await page.locator("code.token").count(), 0);

  // The audit log shows the sign-in failure and success, filterable by action.
  await page.goto(`${base}/admin/audit?action=auth.`);
  const text = await page.locator("table.records").innerText();
  assert.match(text, /auth\.login_failed/);
  assert.match(text, /auth\.login/);
  assert.match(text, /auth\.token_created/);

  // In Chinese.
  await page.click("details.user-menu summary");
  await page.click("form.lang-switch button[value=zh-CN]");
  await page.waitForLoadState();
  assert.equal(await page.locator("h1").innerText(), "审计日志");
  await page.screenshot({ path: join(SHOTS, "audit-zh.png"), fullPage: true });
  await context.close();
});
