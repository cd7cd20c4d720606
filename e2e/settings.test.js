// The settings area: a custom field defined on the settings page appears in forms, record
// pages, lists and filters; a role's field rule hides it; picklists and duplicate rules change.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, launch, signIn, SHOTS } from "./harness.js";

let server, browser;
before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "root@example.com", "--password", "correct horse battery staple", "--role", "administrator", "--name", "管理员"]);
  server.cli(["user", "create", "--email", "rep@example.com", "--password", "correct horse battery staple", "--role", "sales_rep", "--name", "小王"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("custom fields, field rules, picklists and duplicate rules from the settings page", async () => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "root@example.com");

  // Define a single-choice custom field for accounts.
  await page.goto(`${base}/admin/settings`);
  await page.selectOption("form[action='/admin/settings/custom-fields'] select[name=object]", "accounts");
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=key]", "cf_tier");
  await page.selectOption("form[action='/admin/settings/custom-fields'] select[name=kind]", "choice");
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=label_zh]", "客户等级");
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=label_en]", "Tier");
  await page.fill("form[action='/admin/settings/custom-fields'] textarea[name=options]", "gold|金牌|Gold\nsilver|银牌|Silver");
  await page.click("form[action='/admin/settings/custom-fields'] button.primary");
  await page.waitForURL(/saved=1/);
  assert.match(await page.locator("#custom-fields table").innerText(), /cf_tier/);

  // A bad definition is refused with a message.
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=key]", "cf_bad");
  await page.selectOption("form[action='/admin/settings/custom-fields'] select[name=kind]", "choice");
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=label_zh]", "坏字段");
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=label_en]", "Bad");
  await page.click("form[action='/admin/settings/custom-fields'] button.primary");
  assert.equal(await page.locator(".alert.error").count(), 1);

  // It is on the account form and the record page, and can be filtered on.
  await page.goto(`${base}/accounts/new`);
  await page.fill("input[name=name]", "金牌客户有限公司");
  await page.selectOption("select[name=cf_tier]", "gold");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/);
  assert.equal(await page.locator("#row-cf_tier .value").innerText(), "金牌");
  await page.goto(`${base}/accounts?f0_field=cf_tier&f0_op=eq&f0_value=gold&cols=name&cols=cf_tier`);
  assert.match(await page.locator("table.records").innerText(), /金牌客户有限公司[\s\S]*金牌/);
  await page.goto(`${base}/accounts?f0_field=cf_tier&f0_op=eq&f0_value=silver`);
  assert.equal(await page.locator("table.records tbody tr").count(), 0);

  // Export the filtered list as CSV, with headers in Chinese and the custom field included.
  await page.goto(`${base}/accounts?f0_field=cf_tier&f0_op=eq&f0_value=gold&cols=name&cols=cf_tier`);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("a[href^='/accounts/export']")]);
  const { readFileSync } = await import("node:fs");
  const text = readFileSync(await download.path(), "utf8").replace(/^\uFEFF/, "");
  assert.equal(text.split(/\r?\n/)[0], "id,客户名称,客户等级");
  assert.match(text, /金牌客户有限公司,gold/);

  // Transfer the account to the rep, with a reason (the owner field is edited in place).
  await page.click("table.records a:has-text('金牌客户有限公司')");
  await page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/);
  const owner = page.locator("#row-owner_id");
  await owner.hover();
  await owner.locator(".edit-toggle").click();
  await owner.locator("select[name=owner_id]").selectOption({ label: "小王" });
  await owner.locator("input[name=reason]").fill("区域调整");
  await owner.locator("button.primary").click();
  await page.waitForLoadState();
  assert.equal(await page.locator("#row-owner_id .value").innerText(), "小王");
  assert.match(await page.locator("ol.history").innerText(), /转移负责人[\s\S]*区域调整/);

  // Field rules: sales reps may not see the tier.

  await page.goto(`${base}/admin/settings/roles/sales_rep`);
  await page.selectOption("select[name='rule.account.cf_tier']", "hidden");
  await page.screenshot({ path: join(SHOTS, "role-editor-zh.png"), fullPage: true });
  await page.click("form[action='/admin/settings/roles/sales_rep'] button.primary");
  await page.waitForURL(/saved=1/);

  // Departments form a tree.
  await page.goto(`${base}/admin/settings`);
  await page.fill("form[action='/admin/settings/departments'] input[name=name]", "华东大区");
  await page.click("form[action='/admin/settings/departments'] button.primary");
  await page.waitForURL(/saved=1/);
  await page.fill("form[action='/admin/settings/departments'] input[name=name]", "上海分部");
  await page.selectOption("form[action='/admin/settings/departments'] select[name=parent_id]", { label: "华东大区" });
  await page.click("form[action='/admin/settings/departments'] button.primary");
  await page.waitForURL(/saved=1/);
  assert.equal(await page.locator("ul.tree li.depth-1").innerText(), "上海分部");

  // A new picklist value, and the phone duplicate rule turned off.

  await page.goto(`${base}/admin/settings`);
  await page.selectOption("form[action='/admin/settings/picklists'] select[name=list]", "industry");
  await page.fill("form[action='/admin/settings/picklists'] input[name=value]", "agriculture");
  await page.fill("form[action='/admin/settings/picklists'] input[name=label_zh]", "农业");
  await page.fill("form[action='/admin/settings/picklists'] input[name=label_en]", "Agriculture");
  await page.click("form[action='/admin/settings/picklists'] button.primary");
  await page.waitForURL(/saved=1/);
  await page.selectOption("select[name='account.phone']", "off");
  await page.click("form[action='/admin/settings/duplicates'] button.primary");
  await page.waitForURL(/saved=1/);
  assert.equal(await page.locator("select[name='account.phone']").inputValue(), "off");
  await page.screenshot({ path: join(SHOTS, "settings-zh.png"), fullPage: true });

  // The rep: the new industry is offered, the hidden custom field is not there.
  const repContext = await browser.newContext({ locale: "en-US" });
  const rep = await repContext.newPage();
  await signIn(rep, base, "rep@example.com");
  await rep.goto(`${base}/accounts/new`);
  assert.equal(await rep.locator("select[name=cf_tier]").count(), 0);
  assert.ok((await rep.locator("select[name=industry] option").allInnerTexts()).includes("Agriculture"));
  await repContext.close();
  await context.close();
});

test("custom fields on every record type, at phone width in both languages", async () => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "root@example.com");

  // Every record type is offered; define a number field for products.
  await page.goto(`${base}/admin/settings`);
  const offered = await page.locator("form[action='/admin/settings/custom-fields'] select[name=object] option").allInnerTexts();
  for (const name of ["客户", "联系人", "线索", "商机", "产品", "报价单", "合同", "订单", "回款"]) {
    assert.ok(offered.includes(name), `${name} in ${offered}`);
  }
  await page.selectOption("form[action='/admin/settings/custom-fields'] select[name=object]", "products");
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=key]", "cf_seats");
  await page.selectOption("form[action='/admin/settings/custom-fields'] select[name=kind]", "number");
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=label_zh]", "授权席位");
  await page.fill("form[action='/admin/settings/custom-fields'] input[name=label_en]", "Licensed seats");
  await page.click("form[action='/admin/settings/custom-fields'] button.primary");
  await page.waitForURL(/saved=1/);
  assert.match(await page.locator("#custom-fields table").innerText(), /产品[\s\S]*cf_seats/);
  await page.screenshot({ path: join(SHOTS, "settings-custom-fields-phone-zh.png"), fullPage: true });

  // It is on the product form and record page.
  await page.goto(`${base}/products/new`);
  // A new product is on sale unless unticked (the quote form offers only those on sale).
  assert.equal(await page.locator("input[name=active]").isChecked(), true);
  await page.fill("input[name=code]", "SEAT-50");
  await page.fill("input[name=name]", "企业版年度订阅");
  await page.fill("input[name=cf_seats]", "1200");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/products\/[0-9a-f-]{36}$/);
  const url = page.url();
  assert.match(await page.locator("#row-cf_seats .label, #row-cf_seats").first().innerText(), /授权席位/);
  assert.match(await page.locator("#row-cf_seats .value").innerText(), /^1,?200$/);
  assert.match(await page.locator("#row-active .value").innerText(), /^是$/);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling at phone width (${width})`);
  await page.screenshot({ path: join(SHOTS, "product-custom-field-phone-zh.png"), fullPage: true });

  // The role editor offers field rules for it, grouped by record type.
  await page.goto(`${base}/admin/settings/roles/sales_rep`);
  assert.equal(await page.locator("select[name='rule.product.cf_seats']").count(), 1);
  assert.equal(await page.locator("select[name='rule.opportunity.amount']").count(), 1);
  await context.close();

  // In English, the same record reads in English.
  const en = await browser.newContext({ locale: "en-US", viewport: { width: 390, height: 844 } });
  const enPage = await en.newPage();
  await signIn(enPage, base, "root@example.com");
  await enPage.goto(url);
  assert.match(await enPage.locator("#row-cf_seats").innerText(), /Licensed seats/);
  assert.match(await enPage.locator("#row-cf_seats .value").innerText(), /^1,?200$/);
  assert.match(await enPage.locator("#row-active").innerText(), /On sale[\s\S]*Yes/);
  await enPage.screenshot({ path: join(SHOTS, "product-custom-field-phone-en.png"), fullPage: true });
  await en.close();
});

test("roles: created as a copy, renamed and deleted, at phone width", async () => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "root@example.com");
  page.on("dialog", (d) => d.accept());

  await page.goto(`${base}/admin/settings`);
  await page.click("details.new-role summary");
  await page.fill("form[action='/admin/settings/roles'] input[name=key]", "regional_manager");
  await page.fill("form[action='/admin/settings/roles'] input[name=name_zh]", "区域经理");
  await page.fill("form[action='/admin/settings/roles'] input[name=name_en]", "Regional manager");
  await page.selectOption("form[action='/admin/settings/roles'] select[name=copy_of]", "sales_manager");
  await page.screenshot({ path: join(SHOTS, "settings-new-role-phone-zh.png"), fullPage: true });
  await page.click("form[action='/admin/settings/roles'] button.primary");
  await page.waitForURL(/\/admin\/settings\/roles\/regional_manager$/);
  assert.equal(await page.inputValue("input[name=name_zh]"), "区域经理");
  // The copy has the manager's rights: accounts of the department tree, for example.
  assert.notEqual(await page.inputValue("select[name='perm.account.read']"), "none");

  // Renamed from its page.
  await page.fill("input[name=name_zh]", "大区经理");
  await page.click("form[action='/admin/settings/roles/regional_manager'] button.primary");
  await page.waitForURL(/saved=1/);
  assert.match(await page.locator("#roles").innerText(), /大区经理/);

  // A duplicate key is refused with a message.
  await page.click("details.new-role summary");
  await page.fill("form[action='/admin/settings/roles'] input[name=key]", "regional_manager");
  await page.fill("form[action='/admin/settings/roles'] input[name=name_zh]", "重复");
  await page.fill("form[action='/admin/settings/roles'] input[name=name_en]", "Again");
  await page.click("form[action='/admin/settings/roles'] button.primary");
  assert.equal(await page.locator(".alert.error").count(), 1);

  // Built-in roles cannot be deleted; the new one can.
  await page.goto(`${base}/admin/settings/roles/sales_rep`);
  assert.equal(await page.locator("form.delete-role").count(), 0);
  await page.goto(`${base}/admin/settings/roles/regional_manager`);
  await page.screenshot({ path: join(SHOTS, "role-page-phone-zh.png"), fullPage: true });
  await page.click("form.delete-role button");
  await page.waitForURL(/saved=1/);
  assert.doesNotMatch(await page.locator("#roles").innerText(), /大区经理/);
  await context.close();
});

test("how long import files are kept, in both languages at phone width", async () => {
  // zh-CN finds the default (30) and keeps 14; en-US finds 14 and keeps 7.
  for (const [locale, heading, found, kept] of [["zh-CN", /导入文件保留/, "30", "14"], ["en-US", /Import files/, "14", "7"]]) {
    const context = await browser.newContext({ locale, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const base = server.base;
    await signIn(page, base, "root@example.com");
    await page.goto(`${base}/admin/settings#imports`);
    const section = page.locator("#imports");
    assert.match(await section.locator("h2").innerText(), heading);
    const days = section.locator("input[name=keep_raw_days]");
    // The input fits the phone's width.
    const box = await days.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, JSON.stringify(box));
    // Out of range is refused by the server with a message, and nothing changes.
    await days.evaluate((el) => el.removeAttribute("max"));
    await days.fill("5000");
    await section.locator("button.primary").click();
    await page.waitForLoadState();
    assert.equal(await page.locator(".alert.error").count(), 1);
    await page.goto(`${base}/admin/settings#imports`);
    assert.equal(await page.inputValue("#imports input[name=keep_raw_days]"), found);
    await page.fill("#imports input[name=keep_raw_days]", kept);
    await page.click("#imports button.primary");
    await page.waitForURL(/saved=1/);
    assert.equal(await page.inputValue("#imports input[name=keep_raw_days]"), kept);
    await page.locator("#imports").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, `settings-imports-phone-${locale}.png`) });
    await context.close();
  }
});
