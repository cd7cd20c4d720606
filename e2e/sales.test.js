// Lead to cash in a real browser: a rep converts a lead into an account, a contact and an
// opportunity in one step; drags the opportunity's card to another stage on the kanban board
// (and sees that the drag left the same history and audit entry as the API's stage change);
// a drop on "lost" asks for the reason first; the same pages in English.
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

async function api(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    // Cookie-authenticated API writes carry the page's CSRF token.
    const csrf = document.querySelector("input[name=csrf]")?.value || "";
    const res = await fetch(path, { method, headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, [method, path, body]);
}

test("convert a lead, drag its opportunity across the board", async () => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1600, height: 900 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "li.lei@example.com");

  // A new lead from the form.
  await page.goto(`${base}/leads/new`);
  await page.fill("input[name=company]", "苏州园区智造有限公司");
  await page.fill("input[name=family_name]", "陈");
  await page.fill("input[name=given_name]", "静");
  await page.fill("input[name=mobile]", "13912345678");
  await page.selectOption("select[name=source]", "exhibition");
  await page.fill("input[name=campaign]", "2026 工博会");
  await page.click("form.record-form button.primary");
  await page.waitForURL(/\/leads\/[0-9a-f-]{36}$/);
  assert.match(await page.locator(".key-fields").innerText(), /新线索/);

  // Convert it: account, contact and an opportunity in one step.
  await page.click("a[href$='/convert']");
  assert.equal(await page.inputValue("input[name=account_name]"), "苏州园区智造有限公司");
  await page.fill("input[name=opportunity_name]", "智造 MES 项目");
  await page.fill("input[name=amount]", "abc");
  await page.click("form.convert-form button.primary");
  // A bad amount is named and nothing is created.
  assert.match(await page.locator(".alert.error").innerText(), /商机 · 金额/);
  await page.fill("input[name=amount]", "250000.00");
  await page.screenshot({ path: join(SHOTS, "lead-convert-zh.png"), fullPage: true });
  await page.click("form.convert-form button.primary");
  await page.waitForURL(/\/opportunities\/[0-9a-f-]{36}$/);
  const oppUrl = page.url();
  const oppId = oppUrl.split("/").pop();
  const key = await page.locator(".key-fields").innerText();
  assert.match(key, /苏州园区智造有限公司/);
  assert.match(key, /潜在客户/);
  assert.match(key, /250000\.00/);
  const fields = await page.locator("dl.fields").innerText();
  assert.match(fields, /2026 工博会/);
  assert.match(fields, /展会/);

  // Another deal, moved by the API, for comparison with the drag.
  const accounts = await api(page, "GET", "/api/v1/accounts");
  const accountId = accounts.body.data[0].id;
  const other = await api(page, "POST", "/api/v1/opportunities", { name: "对照商机", account_id: accountId, amount: "1000" });
  assert.equal(other.status, 201);
  assert.equal((await api(page, "PATCH", `/api/v1/opportunities/${other.body.id}`, { stage: "needs_analysis" })).status, 200);

  // The board: drag the converted deal's card from 潜在客户 to 需求分析.
  await page.goto(`${base}/opportunities/board`);
  const from = page.locator("[data-stage=prospecting]");
  const to = page.locator("[data-stage=needs_analysis]");
  assert.equal(await from.locator("[data-count]").innerText(), "1");
  assert.equal(await to.locator("[data-count]").innerText(), "1");
  assert.match(await from.locator("[data-total]").innerText(), /250000\.00 CNY/);
  assert.equal(await page.locator(`#card-${oppId} .flag.no-next`).count(), 1);
  await page.screenshot({ path: join(SHOTS, "board-zh.png"), fullPage: true });
  await page.locator(`#card-${oppId}`).dragTo(to);
  await page.waitForLoadState("load");
  await page.waitForFunction(() => document.querySelector("[data-stage=needs_analysis] [data-count]")?.textContent === "2");
  assert.equal(await page.locator("[data-stage=prospecting] [data-count]").innerText(), "0");
  assert.equal(await page.locator(`[data-stage=needs_analysis] #card-${oppId}`).count(), 1);
  // 251000.00 × 25 %
  assert.match(await page.locator("[data-stage=needs_analysis] [data-weighted]").innerText(), /62750\.00 CNY/);

  // The drag and the API left the same kind of history and audit entry.
  const dragged = await api(page, "GET", `/api/v1/opportunities/${oppId}/history`);
  const viaApi = await api(page, "GET", `/api/v1/opportunities/${other.body.id}/history`);
  const last = (h) => h.body.data.find((e) => e.changes && e.changes.stage);
  assert.equal(last(dragged).action, last(viaApi).action);
  assert.deepEqual(Object.keys(last(dragged).changes).sort(), Object.keys(last(viaApi).changes).sort());
  assert.deepEqual(last(dragged).changes.stage, { before: "prospecting", after: "needs_analysis" });
  const stages = await api(page, "GET", `/api/v1/opportunities/${oppId}/stages`);
  assert.deepEqual(stages.body.data.map((v) => v.stage), ["prospecting", "needs_analysis"]);

  // A drop on 输单 asks why before anything is saved.
  await page.locator(`#card-${oppId}`).dragTo(page.locator("[data-stage=lost]"));
  const reason = page.locator(`#card-${oppId} select[name=lost_reason]`);
  await page.screenshot({ path: join(SHOTS, "board-lost-reason-zh.png"), fullPage: true });
  assert.equal(await reason.isVisible(), true);
  assert.equal((await api(page, "GET", `/api/v1/opportunities/${oppId}`)).body.stage, "needs_analysis");
  await reason.selectOption("price");
  await page.locator(`#card-${oppId} [data-move-form] button`).click();
  await page.waitForFunction(() => document.querySelector("[data-stage=lost] [data-count]")?.textContent === "1");
  const lost = await api(page, "GET", `/api/v1/opportunities/${oppId}`);
  assert.equal(lost.body.status, "lost");
  assert.equal(lost.body.lost_reason, "price");

  // The lead page now links to what it became.
  const leads = await api(page, "GET", "/api/v1/leads");
  await page.goto(`${base}/leads/${leads.body.data[0].id}`);
  assert.match(await page.locator(".related-group").first().innerText(), /苏州园区智造有限公司/);
  assert.equal(await page.locator("a[href$='/convert']").count(), 0);
  await context.close();
});

test("the board and the conversion page in English", async () => {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const base = server.base;
  await signIn(page, base, "li.lei@example.com");
  await page.click("details.user-menu summary");
  await page.click("form.lang-switch button[value=en]");
  await page.goto(`${base}/opportunities/board`);
  const heads = await page.locator(".board-col h2").allInnerTexts();
  assert.match(heads.join(" "), /Prospecting/);
  assert.match(heads.join(" "), /Needs analysis/);
  assert.match(await page.locator("nav.sidebar, .sidebar").first().innerText(), /Leads/);
  await page.screenshot({ path: join(SHOTS, "board-en.png"), fullPage: true });
  const lead = await api(page, "POST", "/api/v1/leads", { family_name: "Brown", given_name: "Amy", company: "Northwind Traders" });
  assert.equal(lead.status, 201);
  await page.goto(`${base}/leads/${lead.body.id}/convert`);
  assert.match(await page.locator("h1").innerText(), /Convert lead/);
  await page.uncheck("input[name=with_opportunity]");
  await page.click("form.convert-form button.primary");
  await page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/);
  assert.match(await page.locator("h1").innerText(), /Northwind Traders/);
  await context.close();
});
