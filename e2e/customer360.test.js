// The customer-360 story in a real browser: sign in, create an account and a contact in
// zh-CN, see the inline error for a bad phone, quick search, edit in place, save a filtered
// view and reopen it, switch to English.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, launch, signIn, SHOTS } from "./harness.js";

let server, browser;
before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "li.lei@example.com", "--password", "correct horse battery staple", "--role", "sales_rep", "--name", "李雷", "--department", "华东销售部"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("customer 360 in zh-CN, then English", async () => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "li.lei@example.com");
  assert.equal(await page.locator("nav.sidebar a[href='/accounts']").innerText(), "客户");

  // Create an account.
  await page.goto(`${base}/accounts/new`);
  await page.fill("input[name=name]", "上海远航贸易有限公司");
  await page.fill("input[name=phone]", "021-6888 1234");
  await page.selectOption("select[name=level]", "A");
  await page.fill("input[name=tags]", "重点, 华东");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/);
  assert.equal(await page.locator("h1").innerText(), "上海远航贸易有限公司");
  assert.match(await page.locator(".key-fields").innerText(), /021 6888 1234/);

  // Create a contact with a bad phone number: the error is next to the field, nothing saved.
  await page.goto(`${base}/contacts/new`);
  await page.fill("input[name=family_name]", "王");
  await page.fill("input[name=given_name]", "芳");
  await page.fill("input[name=title]", "采购经理");
  await page.fill("input[name=mobile]", "12345");
  await page.selectOption("select[name=accounts]", { label: "上海远航贸易有限公司" });
  await page.click("form.record-form button.primary");
  const err = page.locator(".field-error[data-field=mobile]");
  assert.equal(await err.innerText(), "电话号码格式不正确");
  assert.equal(await page.inputValue("input[name=mobile]"), "12345", "what the user typed is kept");
  await page.screenshot({ path: join(SHOTS, "contact-inline-error-zh.png"), fullPage: true });
  await page.fill("input[name=mobile]", "138 0013 8000");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
  assert.equal(await page.locator("h1").innerText(), "王芳");
  assert.match(await page.locator(".related").innerText(), /上海远航贸易有限公司/);

  // Quick search by the last four digits of the mobile.
  await page.fill("header .global-search input[name=q]", "8000");
  await page.press("header .global-search input[name=q]", "Enter");
  await page.waitForURL(/\/search\?q=8000/);
  const hit = page.locator("main a", { hasText: "王芳" });
  assert.equal(await hit.count(), 1);
  await hit.click();
  await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);

  // Edit the title in place.
  const row = page.locator("#row-title");
  await row.hover();
  await row.locator(".edit-toggle").click();
  await row.locator("input[name=title]").fill("采购总监");
  await row.locator("button.primary").click();
  await page.waitForLoadState();
  assert.equal(await page.locator("#row-title .value").innerText(), "采购总监");
  assert.match(await page.locator("ol.history").innerText(), /职务: 采购经理 → 采购总监/);

  // A second contact, so the filter has something to leave out.
  await page.goto(`${base}/contacts/new`);
  await page.fill("input[name=family_name]", "赵");
  await page.fill("input[name=given_name]", "强");
  await page.fill("input[name=title]", "技术总监");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);

  // Filter the list, save the view, and reopen it.
  await page.goto(`${base}/contacts`);
  assert.equal(await page.locator("table.records tbody tr").count(), 2);
  await page.selectOption("select[name=f0_field]", "title");
  await page.selectOption("select[name=f0_op]", "contains");
  await page.fill("input[name=f0_value]", "采购");
  await page.click("#filter-form button.primary");
  await page.waitForURL(/f0_field=title/);
  assert.equal(await page.locator("table.records tbody tr").count(), 1);
  await page.fill(".save-view input[name=name]", "采购联系人");
  await page.click(".save-view button");
  await page.waitForLoadState();
  await page.goto(`${base}/contacts`);
  assert.equal(await page.locator("table.records tbody tr").count(), 2);
  await page.click(".views a:has-text('采购联系人')");
  await page.waitForURL(/f0_field=title/);
  assert.equal(await page.locator("table.records tbody tr").count(), 1);
  assert.match(await page.locator("table.records").innerText(), /王芳/);
  assert.equal(await page.inputValue("input[name=f0_value]"), "采购");
  await page.screenshot({ path: join(SHOTS, "contacts-view-zh.png"), fullPage: true });

  // Bulk action on a selection: tag the filtered contact.
  await page.check("table.records tbody tr:first-child input[name=ids]");
  await page.selectOption("#bulk-form select[name=action]", "add_tag");
  await page.fill("#bulk-form input[name=tag]", "重要客户");
  page.once("dialog", (d) => d.accept());
  await page.click("#bulk-form .bulk-bar button.primary");
  await page.waitForURL(/bulk_ok=1/);
  assert.match(await page.locator(".alert.ok").innerText(), /成功 1 条，失败 0 条/);
  await page.goto(`${base}/contacts?cols=name&cols=tags`);
  assert.match(await page.locator("table.records").innerText(), /重要客户/);
  assert.equal(await page.locator("table.records thead th").count(), 3, "chosen columns only (plus the selection column)");
  // Order the columns: tags first.
  await page.click("#filter-form details summary");
  await page.fill("input[name='pos.tags']", "1");
  await page.fill("input[name='pos.name']", "2");
  await page.click("#filter-form button.primary");
  await page.waitForURL(/pos\.tags=1/);
  assert.deepEqual(await page.locator("table.records thead th:not(.select)").allInnerTexts(), ["标签", "姓名"]);



  // Switch to English.
  await page.click("details.user-menu summary");
  await page.click("form.lang-switch button[value=en]");
  await page.waitForLoadState();
  assert.equal(await page.locator("nav.sidebar a[href='/accounts']").innerText(), "Accounts");
  assert.equal(await page.locator("html").getAttribute("lang"), "en");
  await page.goto(`${base}/accounts`);
  assert.equal(await page.locator("h1").innerText(), "Accounts");
  assert.match(await page.locator("table.records thead").innerText(), /Level/);
  await page.screenshot({ path: join(SHOTS, "accounts-en.png"), fullPage: true });

  // Phone width: the table becomes cards and the menu collapses.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/contacts`);
  assert.equal(await page.locator("nav.sidebar").isVisible(), false);
  await page.click("button.menu-toggle");
  assert.equal(await page.locator("nav.sidebar").isVisible(), true);
  await page.screenshot({ path: join(SHOTS, "contacts-phone-en.png"), fullPage: true });

  // Erase a contact's personal data (confirmed, with a reason).
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(`${base}/contacts`);
  await page.click("table.records a:has-text('赵强')");
  await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
  page.once("dialog", (d) => d.accept());
  await page.click("details.erase summary");
  await page.fill("details.erase input[name=reason]", "data subject request");
  await page.click("details.erase button.danger");
  await page.waitForLoadState();
  assert.equal(await page.locator("h1").innerText(), "[erased]");
  assert.equal(await page.locator("#row-title .value").innerText(), "");
  await context.close();

});

test("a lead's personal data exported and erased, at phone width in English", async () => {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "li.lei@example.com");
  await page.goto(`${base}/leads/new`);
  await page.fill("input[name=company]", "Privacy Prospects Ltd");
  await page.fill("input[name=family_name]", "Moreau");
  await page.fill("input[name=given_name]", "Claire");
  await page.fill("input[name=email]", "claire.moreau@prospects.example");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/leads\/[0-9a-f-]{36}$/);
  const url = page.url();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the actions wrap at phone width (${width})`);
  // The export link is offered and answers with the lead's data.
  const href = await page.getAttribute("a[href$='/privacy-export']", "href");
  const res = await page.request.get(`${base}${href}`);
  assert.equal(res.status(), 200);
  assert.equal((await res.json()).record.email, "claire.moreau@prospects.example");
  page.once("dialog", (d) => d.accept());
  await page.click("details.erase summary");
  await page.fill("details.erase input[name=reason]", "data subject request");
  await page.screenshot({ path: join(SHOTS, "lead-erase-phone-en.png"), fullPage: true });
  await page.click("details.erase button.danger");
  await page.waitForURL(url);
  assert.match(await page.locator("h1").innerText(), /\[erased\]/);
  assert.equal(await page.locator("#row-email .value").innerText(), "");
  assert.match(await page.locator("#row-company .value").innerText(), /Privacy Prospects Ltd/);
  await context.close();
});
