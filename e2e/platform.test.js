// First-run setup, sign-in errors, the security page (MFA enrolment with a QR code,
// sessions), and the administrator's audit page, in both languages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createHmac } from "node:crypto";
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

  // Users: create a sales rep, preview what they see (read-only), end their sessions, disable.
  await page.goto(`${base}/accounts/new`);
  await page.fill("input[name=name]", "管理员的客户有限公司");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/);
  await page.goto(`${base}/admin/users`);
  await page.fill("form[action='/admin/users'] input[name=name]", "Ben Rep");
  await page.fill("form[action='/admin/users'] input[name=email]", "ben@example.com");
  await page.fill("form[action='/admin/users'] input[name=password]", PASSWORD);
  await page.selectOption("form[action='/admin/users'] select[name=role]", "sales_rep");
  await page.fill("form[action='/admin/users'] input[name=department]", "华南销售部");
  await page.click("form[action='/admin/users'] button.primary");
  await page.waitForURL(/\/admin\/users$/);
  const benRow = page.locator("tr", { hasText: "ben@example.com" });
  assert.match(await benRow.innerText(), /华南销售部/);
  await benRow.locator("form[action='/admin/view-as'] button").click();
  await page.waitForURL(`${base}/`);
  assert.match(await page.locator(".view-as-banner").innerText(), /Ben Rep/);
  assert.equal(await page.locator("nav.sidebar a[href='/admin/users']").count(), 0, "the preview shows Ben's navigation");
  await page.goto(`${base}/accounts`);
  assert.equal(await page.locator("table.records tbody tr").count(), 0, "Ben sees none of the admin's accounts");
  await page.click(".view-as-banner button");
  await page.waitForURL(/\/admin\/users$/);
  await page.goto(`${base}/accounts`);
  assert.equal(await page.locator("table.records tbody tr").count(), 1);
  await page.goto(`${base}/admin/users`);
  await page.locator("tr", { hasText: "ben@example.com" }).locator("form[action$='/active'] button").click();
  await page.waitForURL(/\/admin\/users$/);
  assert.match(await page.locator("tr", { hasText: "ben@example.com" }).innerText(), /已停用/);
  await context.close();
});

// RFC 6238 code for a base32 secret (what an authenticator app shows).
function totp(secret, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

async function api(base, method, path, body, token) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

test("an administrator resets a user's password and two-step sign-in, at phone width in both languages", async () => {
  const base = server.base;
  server.cli(["user", "create", "--email", "root@example.com", "--password", PASSWORD, "--role", "administrator", "--name", "Root"]);
  server.cli(["user", "create", "--email", "cara@example.com", "--password", PASSWORD, "--role", "sales_rep", "--name", "Cara Chen"]);
  // Cara turns on two-step sign-in.
  const login = await api(base, "POST", "/api/v1/auth/login", { email: "cara@example.com", password: PASSWORD });
  assert.equal(login.status, 200);
  const enrol = await api(base, "POST", "/api/v1/me/mfa/enroll", { current_password: PASSWORD }, login.body.token);
  assert.equal(enrol.status, 200);
  const confirm = await api(base, "POST", "/api/v1/me/mfa/confirm", { code: totp(enrol.body.secret) }, login.body.token);
  assert.equal(confirm.status, 200, JSON.stringify(confirm.body));

  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill("input[name=email]", "root@example.com");
  await page.fill("input[name=password]", PASSWORD);
  await page.click("form[action='/login'] button.primary");
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  await page.goto(`${base}/admin/users`);
  const row = () => page.locator("tr", { hasText: "cara@example.com" });
  assert.match(await row().innerText(), /✓/, "two-step sign-in shown as on");

  // Too short a password: the server's message, nothing changed.
  await row().locator("details.reset-password summary").click();
  const pw = row().locator("form[action$='/password'] input[name=new_password]");
  await pw.evaluate((el) => el.removeAttribute("minlength"));
  await pw.fill("short");
  await Promise.all([page.waitForNavigation(), row().locator("form[action$='/password'] button").click()]);
  assert.match(await page.locator(".alert.error").innerText(), /12/);
  assert.equal((await api(base, "POST", "/api/v1/auth/login", { email: "cara@example.com", password: "short" })).status, 401);

  // A new password: the page says so, Cara's session ends.
  await row().locator("details.reset-password summary").click();
  await row().locator("form[action$='/password'] input[name=new_password]").fill("cara's new passphrase");
  await Promise.all([page.waitForNavigation(), row().locator("form[action$='/password'] button").click()]);
  assert.match(await page.locator(".alert.ok").innerText(), /已设置新密码.*Cara Chen/);
  assert.equal((await api(base, "GET", "/api/v1/me", undefined, login.body.token)).status, 401);
  const withoutCode = await api(base, "POST", "/api/v1/auth/login", { email: "cara@example.com", password: "cara's new passphrase" });
  assert.equal(withoutCode.body.code, "mfa_required");

  // Her phone is lost: remove two-step sign-in (after confirming).
  page.once("dialog", (d) => d.accept());
  await Promise.all([page.waitForNavigation(), row().locator("form[action$='/mfa-reset'] button").click()]);
  assert.match(await page.locator(".alert.ok").innerText(), /已移除两步验证.*Cara Chen/);
  assert.doesNotMatch(await row().innerText(), /✓/);
  assert.equal(await row().locator("form[action$='/mfa-reset']").count(), 0);
  const signedIn = await api(base, "POST", "/api/v1/auth/login", { email: "cara@example.com", password: "cara's new passphrase" });
  assert.equal(signedIn.status, 200);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 391, `no sideways scrolling at phone width (${width}px)`);
  await row().locator("details.reset-password summary").click();
  await page.screenshot({ path: join(SHOTS, "users-reset-zh-phone.png"), fullPage: true });

  // In English.
  await page.click("details.user-menu summary");
  await Promise.all([page.waitForNavigation(), page.click("form.lang-switch button[value=en]")]);
  await page.goto(`${base}/admin/users`);
  await row().locator("details.reset-password summary").click();
  assert.equal(await row().locator("form[action$='/password'] button").innerText(), "Set new password");
  await row().locator("form[action$='/password'] input[name=new_password]").fill("and another passphrase");
  await Promise.all([page.waitForNavigation(), row().locator("form[action$='/password'] button").click()]);
  assert.match(await page.locator(".alert.ok").innerText(), /New password set; sessions ended for Cara Chen/);
  await page.screenshot({ path: join(SHOTS, "users-reset-en-phone.png"), fullPage: true });

  // The audit log names both resets.
  await page.goto(`${base}/admin/audit?action=user.`);
  const audit = await page.locator("table.records").innerText();
  assert.match(audit, /user\.password_reset/);
  assert.match(audit, /user\.mfa_reset/);
  await context.close();
});
