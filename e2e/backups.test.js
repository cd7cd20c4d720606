// The administrators' backup page: a backup and a restore drill started by hand, their
// results shown, at phone width in both languages; refused to someone else.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { startServer, launch, signIn, SHOTS, PASSWORD } from "./harness.js";

let server, browser, s3, s3Endpoint;

/// A free loopback port.
async function freePort() {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

before(async () => {
  // moto's S3 server (PyPI) as the off-site storage, with the bucket its owner made.
  const port = await freePort();
  s3 = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  s3Endpoint = `http://127.0.0.1:${port}`;
  const until = Date.now() + 30000;
  for (;;) {
    try { const r = await fetch(`${s3Endpoint}/crm-backups`, { method: "PUT" }); if (r.ok) break; } catch {}
    if (Date.now() > until) throw new Error("moto's S3 server did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
  server = await startServer({ RAPPORT_BACKUP_SCHEDULED: "on", RAPPORT_JOB_POLL_MS: "100", RAPPORT_BACKUP_OFFSITE_SECS: "1" });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  s3?.kill();
});

/// Reloads `page` until `locator` shows text matching `re` (a background job runs meanwhile).
async function reloadUntil(page, selector, re, what) {
  const until = Date.now() + 60000;
  for (;;) {
    const text = await page.locator(selector).innerText();
    if (re.test(text)) return text;
    assert.ok(Date.now() < until, `${what}: ${text}`);
    await new Promise((r) => setTimeout(r, 400));
    await page.reload();
  }
}

test("an administrator backs up and drills from the backup page, at phone width in both languages", async () => {
  const base = server.base;
  server.cli(["user", "create", "--email", "root@example.com", "--password", PASSWORD, "--role", "administrator", "--name", "Root"]);
  server.cli(["user", "create", "--email", "rep@example.com", "--password", PASSWORD, "--role", "sales_rep", "--name", "Rep"]);

  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await signIn(page, base, "root@example.com");
  await page.goto(`${base}/admin/backups`);
  assert.equal(await page.locator("h1").innerText(), "备份");
  assert.match(await page.locator("#backup-mode").innerText(), /定时完整备份.*每 1 天/);
  assert.match(await page.locator(".backup-problem").first().innerText(), /还没有任何备份/);
  assert.match(await page.locator("#backup-retention").innerText(), /最近 7 天全部保留/);

  await Promise.all([page.waitForNavigation(), page.click("#backup-now")]);
  assert.match(await page.locator(".alert.ok").innerText(), /已排队/);
  const last = await reloadUntil(page, "#backup-last-success", /KB|MB/, "no backup shown");
  assert.match(last, /\d{4}-\d{2}-\d{2} \d{2}:\d{2}.*可恢复到/);
  assert.match(await page.locator("#backup-last-run").innerText(), /成功.*秒.*手动/);
  assert.equal(await page.locator(".backup-problem").count(), 0);
  assert.equal(await page.locator("table.backups tbody tr").count(), 1);

  await Promise.all([page.waitForNavigation(), page.click("#drill-now")]);
  await reloadUntil(page, "#backup-last-drill", /成功/, "the drill did not pass");
  assert.match(await page.locator("#backup-next-drill").innerText(), /（每周）/);
  assert.match(await page.locator("table.backups tbody tr").first().innerText(), /成功/);

  // The off-site copy: a bad bucket is named, nothing saved; then saved, tested, copied.
  await page.fill("input[name=endpoint]", s3Endpoint);
  await page.fill("input[name=bucket]", "Crm_Backups");
  await page.fill("input[name=prefix]", "rapport/prod");
  await page.fill("input[name=access_key]", "AKIAIOSFODNN7EXAMPLE");
  await page.fill("input[name=secret_key]", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  await Promise.all([page.waitForNavigation(), page.click("#target-save")]);
  assert.match(await page.locator(".field-error[data-field=bucket]").innerText(), /.+/);
  assert.equal(await page.locator("#backup-offsite").count(), 0, "nothing saved");
  await page.fill("input[name=bucket]", "crm-backups");
  await page.fill("input[name=secret_key]", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  await Promise.all([page.waitForNavigation(), page.click("#target-save")]);
  assert.match(await page.locator(".alert.ok").innerText(), /已保存异地备份目标/);
  assert.equal(await page.locator("input[name=secret_key]").getAttribute("placeholder"), "已设置，留空则不修改");
  assert.equal(await page.locator("input[name=secret_key]").inputValue(), "", "the secret is never shown");
  await Promise.all([page.waitForNavigation(), page.click("#target-test")]);
  assert.match(await page.locator(".alert.ok").innerText(), /连接正常/);
  const offsite = await reloadUntil(page, "#backup-offsite", /1 份备份已在异地/, "the backup did not go off-site");
  // An SFTP server with a host key that is not one: named, and the S3 target stays.
  await page.selectOption("select[name=kind]", "sftp");
  await page.fill("input[name=endpoint]", "sftp://backup@127.0.0.1:2222");
  await page.fill("input[name=prefix]", "/srv/backups");
  await page.fill("textarea[name=host_key]", "not a key");
  await page.fill("textarea[name=private_key]", "not a key either");
  await Promise.all([page.waitForNavigation(), page.click("#target-save")]);
  assert.match(await page.locator(".field-error[data-field=host_key]").innerText(), /ssh-keyscan/);
  assert.match(await page.locator(".field-error[data-field=private_key]").innerText(), /OpenSSH/);
  assert.equal(await page.locator("select[name=kind]").inputValue(), "sftp");
  await page.goto(`${base}/admin/backups`);
  assert.match(await page.locator("#backup-offsite").innerText(), /s3:\/\/crm-backups/);
  assert.match(offsite, /s3:\/\/crm-backups\/rapport\/prod\//);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 391, `no sideways scrolling at phone width (${width}px)`);
  await page.screenshot({ path: join(SHOTS, "backups-zh-phone.png"), fullPage: true });

  // In English.
  await page.click("details.user-menu summary");
  await Promise.all([page.waitForNavigation(), page.click("form.lang-switch button[value=en]")]);
  await page.goto(`${base}/admin/backups`);
  assert.equal(await page.locator("#backup-now").innerText(), "Back up now");
  assert.match(await page.locator("#backup-mode").innerText(), /Scheduled full copies · every day/);
  assert.match(await page.locator("#backup-last-drill").innerText(), /passed/);
  assert.match(await page.locator("#backup-next-drill").innerText(), /\d{4}-\d{2}-\d{2} \d{2}:\d{2} \(every week\)/);
  assert.match(await page.locator("#backup-last-run").innerText(), /passed · \d+\.\d s · by hand/);
  assert.match(await page.locator("#backup-target").innerText(), /healthy · free \d/);
  assert.match(await page.locator("#backup-offsite").innerText(), /last checked .* · 1 backup there/);
  assert.equal(await page.locator("#target-test").innerText(), "Test the connection");
  await page.screenshot({ path: join(SHOTS, "backups-en-phone.png"), fullPage: true });
  await context.close();

  // A sales rep has no link to it and is refused.
  const other = await browser.newContext({ locale: "en-US" });
  const rp = await other.newPage();
  await signIn(rp, base, "rep@example.com");
  assert.equal(await rp.locator("a[href='/admin/backups']").count(), 0);
  const res = await rp.goto(`${base}/admin/backups`);
  assert.equal(res.status(), 403);
  await other.close();
});
