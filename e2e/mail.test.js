// Mail in a real browser against a real SMTP server (aiosmtpd): the administrator sets up the
// mail server and sends a test message, a rep chooses email notifications and writes to a
// contact from its page; the email arrives and is logged on the contact's timeline.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, launch, signIn, SHOTS } from "./harness.js";

let server, browser, smtp, smtpPort, maildir;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const c = connect(port, "127.0.0.1", () => { c.end(); resolve(true); });
    c.on("error", () => resolve(false));
  });
}

// Messages in the Maildir, decoded by Python's email package.
function messages() {
  const script = `
import json, mailbox, os, sys
from email import policy
from email.parser import BytesParser
out = []
if os.path.isdir(sys.argv[1]):
    for key, m in mailbox.Maildir(sys.argv[1], factory=None).items():
        msg = BytesParser(policy=policy.default).parsebytes(m.as_bytes())
        out.append({"to": str(msg["To"]), "subject": str(msg["Subject"]), "body": msg.get_body(("plain",)).get_content()})
print(json.dumps(out, ensure_ascii=False))`;
  return JSON.parse(execFileSync("python3", ["-c", script, maildir]).toString());
}

async function waitForMail(n) {
  for (let i = 0; i < 100; i++) {
    const m = messages();
    if (m.length >= n) return m;
    await new Promise((r) => setTimeout(r, 200));
  }
  return messages();
}

before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "boss@example.com", "--password", "correct horse battery staple", "--role", "administrator", "--name", "管理员"]);
  server.cli(["user", "create", "--email", "li.lei@example.com", "--password", "correct horse battery staple", "--role", "sales_rep", "--name", "李雷"]);
  smtpPort = await freePort();
  maildir = join(mkdtempSync(join(tmpdir(), "rapport-e2e-mail-")), "Maildir");
  smtp = spawn("python3", ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${smtpPort}`, "-c", "aiosmtpd.handlers.Mailbox", maildir], { stdio: "ignore" });
  for (let i = 0; i < 100 && !(await listening(smtpPort)); i++) await new Promise((r) => setTimeout(r, 100));
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  smtp?.kill();
  rmSync(join(maildir, ".."), { recursive: true, force: true });
});

test("set up mail, test it, and email a contact from its page", async () => {
  const base = server.base;
  const admin = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 900 } });
  const ap = await admin.newPage();
  await signIn(ap, base, "boss@example.com");
  await ap.goto(`${base}/admin/mail`);
  // A mistake first: named next to the field.
  await ap.fill("input[name=host]", "127.0.0.1");
  await ap.fill("input[name=port]", String(smtpPort));
  await ap.selectOption("select[name=security]", "none");
  await ap.fill("input[name=from_address]", "crm@example.com");
  await ap.fill("input[name=from_name]", "Rapport 销售");
  await ap.evaluate(() => { document.querySelector("input[name=from_address]").type = "text"; });
  await ap.fill("input[name=from_address]", "crm-at-example");
  await ap.click("form.mail-form button.primary");
  assert.equal(await ap.locator(".field-error[data-field=from_address]").innerText(), "邮箱格式不正确");
  await ap.fill("input[name=from_address]", "crm@example.com");
  await ap.click("form.mail-form button.primary");
  assert.match(await ap.locator(".alert.ok").innerText(), /邮件设置已保存/);
  await ap.fill("form[action='/admin/mail/test'] input[name=to]", "ops@example.com");
  await ap.click("form[action='/admin/mail/test'] button");
  assert.match(await ap.locator(".alert.ok").innerText(), /测试邮件已发送至 ops@example.com/);
  await ap.screenshot({ path: join(SHOTS, "mail-settings-zh.png"), fullPage: true });
  let got = await waitForMail(1);
  assert.equal(got[0].subject, "Rapport 测试邮件");
  await admin.close();

  const rep = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 900 } });
  const page = await rep.newPage();
  await signIn(page, base, "li.lei@example.com");
  // Reminders by email.
  await page.goto(`${base}/me/security`);
  await page.check("#email-notifications input[value=reminder]");
  await page.click("#email-notifications button");
  await page.waitForURL(/\/me\/security/);
  assert.equal(await page.isChecked("#email-notifications input[value=reminder]"), true);
  assert.equal(await page.isChecked("#email-notifications input[value=mention]"), false);

  await page.goto(`${base}/contacts/new`);
  await page.fill("input[name=family_name]", "王");
  await page.fill("input[name=given_name]", "芳");
  await page.fill("input[name=email]", "wang.fang@example.com");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
  const contactUrl = page.url();
  await page.click("details.write-email > summary");
  await page.fill("details.write-email input[name=subject]", "二期方案报价");
  await page.fill("details.write-email textarea[name=body]", "王经理您好：\n附件是二期方案的报价。\n李雷");
  await page.click("details.write-email button.primary");
  await page.waitForURL((u) => u.href.startsWith(contactUrl));
  assert.match(await page.locator("li.tl-email").innerText(), /二期方案报价/);
  got = await waitForMail(2);
  const sent = got.find((m) => m.subject === "二期方案报价");
  assert.ok(sent, JSON.stringify(got));
  assert.match(sent.to, /wang\.fang@example\.com/);
  assert.match(sent.body, /附件是二期方案的报价/);
  // Once sent, the logged email says so.
  let status = "";
  for (let i = 0; i < 30 && !/已发送/.test(status); i++) {
    await page.waitForTimeout(300);
    await page.reload();
    status = await page.locator("li.tl-email").innerText();
  }
  assert.match(status, /已发送/);
  await page.screenshot({ path: join(SHOTS, "contact-email-zh.png"), fullPage: true });

  // English labels.
  await page.click("details.user-menu summary");
  await page.click("form.lang-switch button[value=en]");
  await page.goto(`${base}/me/security`);
  assert.equal(await page.locator("#email-notifications h2").innerText(), "Email notifications");
  await rep.close();
});

test("a rep cannot open the mail settings", async () => {
  const context = await browser.newContext({ locale: "zh-CN" });
  const page = await context.newPage();
  await signIn(page, server.base, "li.lei@example.com");
  const res = await page.goto(`${server.base}/admin/mail`);
  assert.equal(res.status(), 403);
  await context.close();
});

test("audit anchors emailed to an address set on the mail page, at phone width in both languages", async () => {
  const base = server.base;
  const before = messages().length;
  for (const [locale, heading, to] of [["en-US", "Audit anchors by email", "audit@example.com"], ["zh-CN", "审计锚点邮件", "audit-zh@example.com"]]) {
    const context = await browser.newContext({ locale, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await signIn(page, base, "boss@example.com");
    await page.goto(`${base}/admin/mail#anchor-mail`);
    const section = page.locator("#anchor-mail");
    assert.equal(await section.locator("h2").innerText(), heading);
    // A mistake is named next to the field and changes nothing.
    await section.locator("input[name=anchor_email]").evaluate((el) => { el.type = "text"; });
    await section.locator("input[name=anchor_email]").fill("audit-at-example");
    await section.locator("button.primary").click();
    assert.equal(await page.locator(".field-error[data-field=anchor_email]").count(), 1);
    await page.goto(`${base}/admin/mail#anchor-mail`);
    await page.fill("#anchor-mail input[name=anchor_email]", to);
    await page.click("#anchor-mail button.primary");
    assert.equal(await page.locator(".alert.ok").count(), 1);
    assert.equal(await page.inputValue("#anchor-mail input[name=anchor_email]"), to);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `fits the phone (${width})`);
    await page.locator("#anchor-mail").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, `mail-anchors-phone-${locale}.png`) });
    await context.close();
  }
  // The next anchor goes to the address set last.
  server.cli(["audit", "anchor"]);
  const got = await waitForMail(before + 1);
  const anchor = got.find((m) => /^\[Rapport\] audit anchor #\d+$/.test(m.subject));
  assert.ok(anchor, JSON.stringify(got));
  assert.match(anchor.to, /audit-zh@example\.com/);
  assert.match(anchor.body, /"mac":"/);
});
