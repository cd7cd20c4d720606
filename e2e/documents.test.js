// Quotes, contracts and approval in a real browser: a rep builds a quote with two lines (one
// priced from a product, one typed in) and sees its exact totals and printable page; the rep
// submits a contract and the manager approves it from the approvals inbox; the same pages in
// English.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, launch, signIn, SHOTS, api } from "./harness.js";

let server, browser;
const PW = "correct horse battery staple";
before(async () => {
  server = await startServer();
  const user = (email, role, name, extra = []) =>
    server.cli(["user", "create", "--email", email, "--password", PW, "--role", role, "--name", name, ...extra]);
  user("admin@example.com", "administrator", "管理员");
  user("wang.fang@example.com", "sales_manager", "王芳", ["--department", "华东销售部"]);
  user("li.lei@example.com", "sales_rep", "李雷", ["--department", "华东销售部", "--manager", "wang.fang@example.com"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});


async function session(locale, email) {
  const context = await browser.newContext({ locale, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await signIn(page, server.base, email);
  return { context, page };
}

test("a quote with two lines shows exact totals and prints cleanly", async () => {
  const base = server.base;
  const admin = await session("zh-CN", "admin@example.com");
  const product = await api(admin.page, "POST", "/api/v1/products",
    { code: "CRM-PRO", name: "Rapport 专业版", unit: "套", price: "12000.00", tax_rate: 13 });
  assert.equal(product.status, 201);
  await admin.context.close();

  const { context, page } = await session("zh-CN", "li.lei@example.com");
  const account = await api(page, "POST", "/api/v1/accounts", { name: "宁波港湾物流有限公司" });
  assert.equal(account.status, 201);

  await page.goto(`${base}/quotes/new?account_id=${account.body.id}`);
  await page.fill("input[name=name]", "仓储管理系统报价");
  await page.fill("input[name=valid_until]", "2099-06-30");
  const rows = page.locator("table.lines-editor tr.line-row");
  await rows.nth(0).locator("select").selectOption({ label: "CRM-PRO Rapport 专业版" });
  await rows.nth(0).locator("input[name='lines.quantity']").fill("2");
  await rows.nth(0).locator("input[name='lines.discount']").fill("10");
  await rows.nth(1).locator("input[name='lines.name']").fill("实施服务");
  await rows.nth(1).locator("input[name='lines.unit_price']").fill("5000");
  await rows.nth(1).locator("input[name='lines.tax_rate']").fill("6");
  // "Add a line" gives a third, empty row (left blank, so it is not saved).
  await page.click("button[data-add-line]");
  assert.equal(await page.locator("table.lines-editor tr.line-row").count(), 3);
  await page.screenshot({ path: join(SHOTS, "quote-form-zh.png"), fullPage: true });
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/quotes\/[0-9a-f-]{36}$/);

  // 2 × 12000 − 10 % = 21600 + 13 % tax 2808; 5000 + 6 % tax 300.
  const lines = page.locator("table.doc-lines tbody tr");
  assert.equal(await lines.count(), 2);
  assert.match(await lines.nth(0).innerText(), /Rapport 专业版[\s\S]*21600\.00[\s\S]*24408\.00/);
  assert.match(await lines.nth(1).innerText(), /实施服务[\s\S]*5300\.00/);
  const totals = await page.locator("dl.doc-totals").innerText();
  assert.match(totals, /折前金额\s*29000\.00 CNY/);
  assert.match(totals, /折扣\s*2400\.00 CNY/);
  assert.match(totals, /税额\s*3108\.00 CNY/);
  assert.match(totals, /价税合计\s*29708\.00 CNY/);
  const title = await page.locator("h1").innerText();
  assert.match(title, /^Q-\d{4}-0001 仓储管理系统报价/);
  await page.screenshot({ path: join(SHOTS, "quote-zh.png"), fullPage: true });

  // Send it, then the printable page.
  await page.click("form[action$='/status/sent'] button");
  await page.waitForURL(/\/quotes\/[0-9a-f-]{36}$/);
  assert.match(await page.locator(".key-fields").innerText(), /已发送/);
  await page.click("a[href$='/print']");
  await page.waitForURL(/\/print$/);
  assert.equal(await page.locator("nav, .topbar").count(), 0, "no navigation on the printed page");
  assert.match(await page.locator("h1").innerText(), /报价单/);
  assert.match(await page.locator(".print-meta").innerText(), /宁波港湾物流有限公司/);
  assert.match(await page.locator("dl.doc-totals").innerText(), /29708\.00/);
  await page.screenshot({ path: join(SHOTS, "quote-print-zh.png"), fullPage: true });
  // The strict CSP blocks inline handlers and styles: the button works through app.js.
  assert.equal(await page.locator("[onclick], [style]").count(), 0);
  await page.evaluate(() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; });
  await page.click("button[data-print]");
  assert.equal(await page.evaluate(() => window.__printed), 1, "the print button prints");
  await context.close();
});

test("the manager approves a contract from the approvals inbox", async () => {
  const base = server.base;
  const rep = await session("en-US", "li.lei@example.com");
  const accounts = await api(rep.page, "GET", "/api/v1/accounts");
  const contract = await api(rep.page, "POST", "/api/v1/contracts",
    { name: "Warehouse system licence", account_id: accounts.body.data[0].id, amount: "29708.00", signed_date: "2026-11-20" });
  assert.equal(contract.status, 201);
  await rep.page.goto(`${base}/contracts/${contract.body.id}`);
  await rep.page.click("form[action$='/submit'] button");
  await rep.page.waitForURL(/\/contracts\/[0-9a-f-]{36}$/);
  assert.match(await rep.page.locator(".key-fields").innerText(), /Awaiting approval/);
  // The rep may not approve their own contract: no approve button.
  assert.equal(await rep.page.locator("form[action$='/approve']").count(), 0);
  assert.match(await rep.page.locator("#approval").innerText(), /Owner's manager[\s\S]*王芳[\s\S]*Waiting/);

  const mgr = await session("en-US", "wang.fang@example.com");
  await mgr.page.goto(`${base}/approvals`);
  const item = mgr.page.locator(`.approval-item[data-contract='${contract.body.id}']`);
  assert.match(await item.innerText(), /Warehouse system licence[\s\S]*29708\.00 CNY[\s\S]*李雷/);
  await mgr.page.screenshot({ path: join(SHOTS, "approvals-en.png"), fullPage: true });
  await item.locator("input[name=comment]").first().fill("OK, standard terms");
  await item.locator("form[action$='/approve'] button").click();
  await mgr.page.waitForURL(/\/approvals$/);
  assert.equal(await mgr.page.locator(".approval-item").count(), 0);
  assert.match(await mgr.page.locator("main").innerText(), /No contracts wait for your approval/);

  await rep.page.reload();
  assert.match(await rep.page.locator(".key-fields").innerText(), /Approved/);
  assert.match(await rep.page.locator("#approval").innerText(), /Approved · 王芳[\s\S]*OK, standard terms/);
  await rep.page.goto(`${base}/notifications`);
  assert.match(await rep.page.locator("main").innerText(), /approved the contract/);
  await rep.page.goto(`${base}/contracts/${contract.body.id}`);
  await rep.page.screenshot({ path: join(SHOTS, "contract-approved-en.png"), fullPage: true });
  await rep.context.close();
  await mgr.context.close();
});

test("an administrator changes the sales settings", async () => {
  const base = server.base;
  const { context, page } = await session("zh-CN", "admin@example.com");
  await page.goto(`${base}/admin/sales`);
  assert.match(await page.locator("h1").innerText(), /销售设置/);

  // A new stage on the default pipeline.
  const pipeline = page.locator("form.pipeline-form").first();
  const blank = pipeline.locator("table.stages tbody tr").last();
  await blank.locator("input[name=key]").fill("contracting");
  await blank.locator("input[name=stage_zh]").fill("合同签订");
  await blank.locator("input[name=stage_en]").fill("Contracting");
  await blank.locator("input[name=probability]").fill("90");
  await pipeline.locator("button.primary").click();
  await page.waitForURL(/saved=1/);
  const pipelines = await api(page, "GET", "/api/v1/pipelines");
  assert.ok(pipelines.body.data[0].stages.some((s) => s.key === "contracting" && s.probability === 90));

  // Pool rules: a bad number is named and nothing changes; then a good one.
  await page.fill("#pool input[name=daily_claim_limit]", "many");
  await page.click("#pool button.primary");
  assert.match(await page.locator(".alert.error").innerText(), /daily_claim_limit/);
  await page.fill("#pool input[name=daily_claim_limit]", "3");
  await page.click("#pool button.primary");
  await page.waitForURL(/saved=1/);
  assert.equal((await api(page, "GET", "/api/v1/settings/pool")).body.daily_claim_limit, 3);

  // Approval: finance from 100,000.
  await page.fill("#approval tbody tr:nth-child(2) input[name=min_amount]", "100000.00");
  await page.click("#approval button.primary");
  await page.waitForURL(/saved=1/);
  const flow = await api(page, "GET", "/api/v1/settings/approval-flow");
  assert.deepEqual(flow.body.steps[1], { approver: "role:finance", min_amount: "100000.00" });

  // A price list with the product's price.
  // With no price list yet, the form for a new one is open.
  const list = page.locator("#price-lists form[action$='/new']");
  await list.locator("input[name=name]").fill("渠道价");
  await list.locator("select[name=product_id]").first().selectOption({ label: "CRM-PRO Rapport 专业版" });
  await list.locator("input[name=price]").first().fill("9800.00");
  await list.locator("button.primary").click();
  await page.waitForURL(/saved=1/);
  const lists = await api(page, "GET", "/api/v1/price-lists");
  assert.equal(lists.body.data[0].name, "渠道价");
  assert.equal(lists.body.data[0].items[0].price, "9800.00");
  await page.screenshot({ path: join(SHOTS, "sales-settings-zh.png"), fullPage: true });
  await context.close();
});
