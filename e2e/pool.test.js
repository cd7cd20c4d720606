// The public pool and sales targets in a real browser: a rep claims an account from the pool
// (it becomes theirs and leaves the pool) and releases it again with a reason; a manager sets a
// rep's monthly target and both see the progress (in English).
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
  user("wang.fang@example.com", "sales_manager", "王芳", ["--department", "华南销售部"]);
  user("han.mei@example.com", "sales_rep", "韩梅", ["--department", "华南销售部", "--manager", "wang.fang@example.com"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});


async function session(locale, email) {
  const context = await browser.newContext({ locale, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await signIn(page, server.base, email);
  return { context, page };
}

test("claim an account from the pool and release it again", async () => {
  const base = server.base;
  const admin = await session("zh-CN", "admin@example.com");
  for (const name of ["深圳前海贸易有限公司", "广州天河软件有限公司"]) {
    const a = await api(admin.page, "POST", "/api/v1/accounts", { name, industry: "it", city: "深圳" });
    assert.equal(a.status, 201);
    assert.equal((await api(admin.page, "POST", `/api/v1/accounts/${a.body.id}/release`, { reason: "no_need" })).status, 204);
  }
  await admin.context.close();

  const { context, page } = await session("zh-CN", "han.mei@example.com");
  await page.goto(`${base}/pool`);
  assert.match(await page.locator(".pool-standing").innerText(), /今日已领取 0 \/ 10/);
  const row = page.locator("tr", { hasText: "深圳前海贸易有限公司" });
  assert.match(await row.innerText(), /信息技术[\s\S]*暂无需求/);
  await page.screenshot({ path: join(SHOTS, "pool-zh.png"), fullPage: true });
  await row.locator("form[action$='/claim'] button").click();
  await page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/);
  assert.match(await page.locator("h1").innerText(), /深圳前海贸易有限公司/);
  assert.match(await page.locator(".key-fields").innerText(), /韩梅/);
  await page.goto(`${base}/pool`);
  assert.equal(await page.locator("tr", { hasText: "深圳前海贸易有限公司" }).count(), 0);
  assert.match(await page.locator(".pool-standing").innerText(), /今日已领取 1 \/ 10/);

  // Release it from its page with a reason: back in the pool.
  await page.goto(`${base}/accounts`);
  await page.click("text=深圳前海贸易有限公司");
  await page.click("details.release summary");
  await page.selectOption("details.release select[name=reason]", "unreachable");
  await page.fill("details.release input[name=note]", "电话一直无人接听");
  await page.click("details.release button");
  await page.waitForURL(/\/pool$/);
  assert.match(await page.locator("tr", { hasText: "深圳前海贸易有限公司" }).innerText(), /联系不上/);
  await context.close();
});

test("a manager sets a monthly target and the rep sees the progress", async () => {
  const base = server.base;
  const rep = await session("en-US", "han.mei@example.com");
  const accounts = await api(rep.page, "GET", "/api/v1/pool");
  const claimed = await api(rep.page, "POST", `/api/v1/pool/${accounts.body.data[0].id}/claim`);
  assert.equal(claimed.status, 204);
  const won = await api(rep.page, "POST", "/api/v1/opportunities",
    { name: "Cloud ERP", account_id: accounts.body.data[0].id, amount: "75000.00", stage: "won" });
  assert.equal(won.status, 201);

  const mgr = await session("en-US", "wang.fang@example.com");
  await mgr.page.goto(`${base}/targets`);
  assert.match(await mgr.page.locator("main").innerText(), /No targets you can see/);
  await mgr.page.selectOption("form.target-form select[name=subject]", { label: "韩梅" });
  await mgr.page.selectOption("form.target-form select[name=metric]", "won");
  await mgr.page.fill("form.target-form input[name=amount]", "150000");
  await mgr.page.click("form.target-form button.primary");
  await mgr.page.waitForURL(/\/targets\?period=/);
  const row = mgr.page.locator("table.targets tbody tr", { hasText: "韩梅" });
  assert.match(await row.innerText(), /Won deals[\s\S]*150000\.00 CNY[\s\S]*75000\.00[\s\S]*50%/);
  // The bar is drawn at its value, without inline styles (the CSP blocks them).
  assert.equal(await row.locator("progress").getAttribute("value"), "50");
  const fill = await row.locator("progress").evaluate((p) => p.position);
  assert.ok(Math.abs(fill - 0.5) < 0.01, `drawn at ${fill}`);
  assert.equal(await mgr.page.locator("main [style]").count(), 0);
  await mgr.page.screenshot({ path: join(SHOTS, "targets-en.png"), fullPage: true });

  // "My day" lists an open deal nobody planned a next step for.
  const open = await api(rep.page, "POST", "/api/v1/opportunities",
    { name: "Data platform", account_id: accounts.body.data[0].id, amount: "32000.00" });
  assert.equal(open.status, 201);
  await rep.page.goto(`${base}/`);
  assert.match(await rep.page.locator("#myday-no-next").innerText(), /Deals without a next activity[\s\S]*Data platform[\s\S]*32000\.00 CNY/);
  assert.doesNotMatch(await rep.page.locator("#myday-no-next").innerText(), /Cloud ERP/, "won deals are not listed");
  await rep.page.screenshot({ path: join(SHOTS, "my-day-en.png"), fullPage: true });

  // The rep sees their own progress, and no form to set targets.
  await rep.page.goto(`${base}/targets`);
  assert.match(await rep.page.locator("table.targets").innerText(), /50%/);
  assert.equal(await rep.page.locator("form.target-form").count(), 0);
  await rep.context.close();
  await mgr.context.close();
});
