// Follow-up in a real browser: log a visit with a follow-up task from the account page (first
// with a mistake, shown next to the field), see both on the account timeline, receive the
// in-app reminder on the bell, mark it read, tick the task off, then the same pages in English;
// the administrator sees the reminder job in the job queue.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { startServer, launch, signIn, SHOTS } from "./harness.js";

let server, browser;
before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "han.mei@example.com", "--password", "correct horse battery staple", "--role", "sales_rep", "--name", "韩梅梅", "--department", "华南销售部"]);
  server.cli(["user", "create", "--email", "boss@example.com", "--password", "correct horse battery staple", "--role", "administrator", "--name", "管理员"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// A datetime-local value in the instance's zone (UTC+8), `minutes` from now.
function local(minutes) {
  return new Date(Date.now() + 8 * 3600e3 + minutes * 60e3).toISOString().slice(0, 16);
}

test("log a visit with a follow-up task, get the reminder, mark it read", async () => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "han.mei@example.com");

  await page.goto(`${base}/accounts/new`);
  await page.fill("input[name=name]", "广州星河科技有限公司");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/);
  const accountUrl = page.url();

  // The form shows only the fields of the chosen kind.
  await page.click("details.log-activity > summary");
  const form = page.locator("details.log-activity form");
  await form.locator("select[name=kind]").selectOption("visit");
  assert.equal(await form.locator("input[name=place]").isVisible(), true);
  assert.equal(await form.locator("input[name=duration_minutes]").isVisible(), false);

  // A visit that ends before it starts: the error is next to the field, what was typed stays.
  await form.locator("input[name=subject]").fill("拜访采购总监");
  await form.locator("input[name=start_at]").fill(local(-120));
  await form.locator("input[name=end_at]").fill(local(-180));
  await form.locator("input[name=place]").fill("天河区珠江新城");
  await form.locator("button.primary").click();
  const err = page.locator(".field-error[data-field=end_at]");
  assert.equal(await err.innerText(), "结束时间不能早于开始时间");
  assert.equal(await page.inputValue("input[name=place]"), "天河区珠江新城");
  await page.screenshot({ path: join(SHOTS, "activity-error-zh.png"), fullPage: true });

  // Fixed, with a follow-up task whose reminder is due now.
  await page.fill("input[name=end_at]", local(-60));
  await page.fill("input[name=outcome]", "确认二期需求");
  await page.check("input[name=follow_up]");
  await page.fill("input[name=follow_up_subject]", "发送二期报价");
  await page.fill("input[name=follow_up_due_at]", local(24 * 60));
  await page.fill("input[name=follow_up_remind_at]", local(0));
  await page.click("form.activity-form button.primary");
  await page.waitForURL((u) => u.href.startsWith(accountUrl));
  const timeline = page.locator("#timeline ol.timeline");
  assert.match(await timeline.innerText(), /拜访采购总监/);
  assert.match(await timeline.innerText(), /发送二期报价/);
  assert.match(await timeline.innerText(), /天河区珠江新城/);
  assert.match(await page.locator(".key-fields, dl.fields").first().innerText(), /./);

  // The reminder arrives on the bell (the job runs within a second or two).
  let count = "";
  for (let i = 0; i < 30 && !count; i++) {
    await page.waitForTimeout(500);
    await page.reload();
    count = (await page.locator(".bell-count").count()) ? await page.locator(".bell-count").innerText() : "";
  }
  assert.equal(count, "1");
  await page.screenshot({ path: join(SHOTS, "timeline-zh.png"), fullPage: true });

  await page.click("a.bell");
  await page.waitForURL(/\/notifications$/);
  const note = page.locator("li.note.unread");
  assert.equal(await note.count(), 1);
  assert.match(await note.innerText(), /提醒：发送二期报价/);
  await page.screenshot({ path: join(SHOTS, "notifications-zh.png"), fullPage: true });
  await note.locator("button").click();
  await page.waitForURL(/\/notifications$/);
  assert.equal(await page.locator("li.note.unread").count(), 0);
  assert.equal(await page.locator(".bell-count").count(), 0);

  // Tick the task off from the timeline.
  await page.goto(accountUrl);
  const task = page.locator("li.tl-task", { hasText: "发送二期报价" });
  await task.locator("button").click();
  await page.waitForURL((u) => u.href.startsWith(accountUrl));
  assert.match(await page.locator("li.tl-task", { hasText: "发送二期报价" }).innerText(), /已完成/);

  // An overdue task shows on "my day".
  await page.click("details.log-activity > summary");
  await page.selectOption("details.log-activity select[name=kind]", "task");
  await page.fill("details.log-activity input[name=subject]", "回访客户");
  await page.fill("details.log-activity input[name=due_at]", local(-30));
  await page.selectOption("details.log-activity select[name=remind_before_minutes]", "1440");
  await page.click("details.log-activity button.primary");
  await page.waitForURL((u) => u.href.startsWith(accountUrl));
  await page.goto(`${base}/`);
  assert.match(await page.locator("#myday-overdue").innerText(), /回访客户/);

  // English.
  await page.click("details.user-menu summary");
  await page.click("form.lang-switch button[value=en]");
  await page.goto(accountUrl);
  assert.equal(await page.locator("#timeline h2").innerText(), "Timeline");
  assert.match(await page.locator("li.tl-visit").innerText(), /Visit/);
  assert.match(await page.locator("li.tl-task", { hasText: "发送二期报价" }).innerText(), /Done/);
  await page.goto(`${base}/`);
  assert.match(await page.locator("main").innerText(), /My day/);
  assert.match(await page.locator("#myday-overdue").innerText(), /回访客户[\s\S]*Open/);
  await page.screenshot({ path: join(SHOTS, "my-day-en.png"), fullPage: true });
  // The overdue task's reminder ("1 day before" its due time) came too.
  let notes = "";
  for (let i = 0; i < 30 && !/Reminder: 回访客户/.test(notes); i++) {
    await page.goto(`${base}/notifications`);
    notes = await page.locator("ul.notes").innerText();
    if (!/Reminder: 回访客户/.test(notes)) await page.waitForTimeout(500);
  }
  assert.match(notes, /Reminder: 发送二期报价/);
  assert.match(notes, /Reminder: 回访客户/);
  await context.close();

  // The administrator sees the reminder job; the rep may not open the page.
  const admin = await browser.newContext({ locale: "en", viewport: { width: 1280, height: 800 } });
  const ap = await admin.newPage();
  await signIn(ap, base, "boss@example.com");
  await ap.goto(`${base}/admin/jobs?status=done`);
  assert.match(await ap.locator("table.records").innerText(), /activity\.remind/);
  await ap.screenshot({ path: join(SHOTS, "jobs-en.png"), fullPage: true });
  await admin.close();
});

test("a rep cannot open the job queue", async () => {
  const context = await browser.newContext({ locale: "zh-CN" });
  const page = await context.newPage();
  await signIn(page, server.base, "han.mei@example.com");
  const res = await page.goto(`${server.base}/admin/jobs`);
  assert.equal(res.status(), 403);
  await context.close();
});

test("import vCards from a phone and subscribe to the calendar feed", async () => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "han.mei@example.com");
  // The first test left this user in English: back to Chinese.
  await page.click("details.user-menu summary");
  await page.click("form.lang-switch button[value=zh-CN]");

  await page.goto(`${base}/contacts`);
  await page.click("details.vcard-import > summary");
  const vcf = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E6=9D=8E;=E5=9B=9B;;;\r\n" +
    "TEL;CELL:136 0000 7777\r\nEND:VCARD\r\n" +
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Grace Hopper\r\nEMAIL:grace@example.com\r\nEND:VCARD\r\n" +
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:赵;六;;;\r\nEMAIL:broken-address\r\nEND:VCARD\r\n";
  await page.setInputFiles("details.vcard-import input[type=file]", { name: "phone.vcf", mimeType: "text/vcard", buffer: Buffer.from(vcf) });
  await page.click("details.vcard-import button.primary");
  await page.waitForURL(/\/contacts\/import-vcard$/);
  assert.equal(await page.locator(".vcard-created").innerText(), "2");
  const failed = page.locator("table.vcard-failed");
  assert.match(await failed.innerText(), /3\s+赵六\s+邮箱: 邮箱格式不正确/);
  await page.screenshot({ path: join(SHOTS, "vcard-import-zh.png"), fullPage: true });
  await page.goto(`${base}/contacts?q=7777`);
  assert.match(await page.locator("table.records").innerText(), /李四/);

  // The same list as an Excel workbook.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("a.export-xlsx")]);
  const xlsx = readFileSync(await download.path());
  assert.equal(xlsx.subarray(0, 2).toString(), "PK", "an XLSX (zip) file");
  assert.match(download.suggestedFilename(), /contacts\.xlsx$/);

  // The calendar feed: an absolute private address that calendar apps can fetch; reset it.
  await page.goto(`${base}/me/security`);
  const url = await page.inputValue("#calendar input.feed-url");
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/calendar\/[0-9a-f]{64}\.ics$/);
  const anon = await browser.newContext();
  const feed = await anon.request.get(url);
  assert.equal(feed.status(), 200);
  assert.match(await feed.text(), /BEGIN:VCALENDAR[\s\S]*回访客户/);
  page.once("dialog", (d) => d.accept());
  await page.click("#calendar button");
  await page.waitForURL(/\/me\/security/);
  const fresh = await page.inputValue("#calendar input.feed-url");
  assert.notEqual(fresh, url);
  assert.equal((await anon.request.get(url)).status(), 404);
  assert.equal((await anon.request.get(fresh)).status(), 200);
  await anon.close();

  await page.click("details.user-menu summary");
  await page.click("form.lang-switch button[value=en]");
  await page.goto(`${base}/me/security`);
  assert.equal(await page.locator("#calendar h2").innerText(), "Calendar feed");
  await page.screenshot({ path: join(SHOTS, "calendar-feed-en.png"), fullPage: true });
  await context.close();
});
