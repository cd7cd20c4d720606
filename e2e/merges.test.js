// Duplicates and merging in a real browser: a rep finds two versions of one company in the
// duplicate scan (zh-CN), compares them side by side, keeps one value from each and merges
// them; the other account's deal moves over and its old link leads to the merged account;
// then the merge is undone from the duplicates page (its message shown only in the session
// that acted, never from words put in a link), and bulk merging works in English.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, launch, signIn, SHOTS, api } from "./harness.js";

let server, browser;
const PW = "correct horse battery staple";
before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "han.mei@example.com", "--password", PW, "--role", "sales_rep", "--name", "韩梅"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});


async function session(locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await signIn(page, server.base, "han.mei@example.com");
  return { context, page };
}

test("find duplicates, merge two accounts choosing values, then undo", async () => {
  const base = server.base;
  const { context, page } = await session("zh-CN");
  const a1 = await api(page, "POST", "/api/v1/accounts", { name: "华为技术有限公司", industry: "it", website: "https://old.example.com" });
  assert.equal(a1.status, 201);
  const a2 = await api(page, "POST", "/api/v1/accounts?override_duplicates=true", { name: "华为技术", phone: "0755-28780808", website: "https://www.huawei.example.com" });
  assert.equal(a2.status, 201);
  const deal = await api(page, "POST", "/api/v1/opportunities", { name: "云服务二期", account_id: a2.body.id, amount: "80000" });
  assert.equal(deal.status, 201);

  await page.goto(`${base}/accounts`);
  await page.click("a.dup-link");
  await page.waitForURL(/\/duplicates\?object=accounts/);
  const group = page.locator("tr.dup-group", { hasText: "华为技术有限公司" });
  assert.match(await group.innerText(), /80[\s\S]*名称相同/);
  await page.screenshot({ path: join(SHOTS, "duplicates-zh.png"), fullPage: true });
  await group.locator("a.compare").click();
  await page.waitForURL(/\/merge\?/);
  // The oldest record is kept by default; take the other one's website.
  assert.equal(await page.locator(`input[name=survivor][value='${a1.body.id}']`).isChecked(), true);
  await page.check(`input[name=f_website][value='${a2.body.id}']`);
  await page.screenshot({ path: join(SHOTS, "merge-zh.png"), fullPage: true });
  await page.click("button.do-merge");
  await page.waitForURL(new RegExp(`/accounts/${a1.body.id}$`));
  const fields = await page.locator("main").innerText();
  assert.match(fields, /https:\/\/www\.huawei\.example\.com/);
  assert.match(fields, /云服务二期/, "the deal moved to the account kept");
  // The merged account's old link leads to the account kept.
  await page.goto(`${base}/accounts/${a2.body.id}`);
  await page.waitForURL(new RegExp(`/accounts/${a1.body.id}$`));

  // Undo from the duplicates page.
  await page.goto(`${base}/duplicates?object=accounts`);
  const row = page.locator("table.merges tr", { hasText: "华为技术有限公司" });
  assert.match(await row.innerText(), /已合并/);
  await row.locator("button.undo-merge").click();
  await page.waitForURL(/notice=/);
  assert.match(await page.locator(".alert.ok").innerText(), /合并已撤销/);
  assert.match(await page.locator("table.merges").innerText(), /已撤销/);
  // The message is signed for this session: the same link opened in another session (sent to
  // a colleague), or a link with words of its own, shows no banner.
  const signed = page.url();
  assert.match(signed, /notice_sig=/);
  const other = await session("zh-CN");
  await other.page.goto(signed);
  assert.equal(await other.page.locator(".alert").count(), 0);
  await other.page.goto(`${base}/duplicates?object=accounts&notice=${encodeURIComponent("账户已冻结，请致电 400-000-0000")}&error=${encodeURIComponent("Your password expired")}`);
  assert.equal(await other.page.locator(".alert").count(), 0);
  assert.doesNotMatch(await other.page.locator("main").innerText(), /400-000-0000|password expired/);
  await other.context.close();
  const back = await api(page, "GET", `/api/v1/accounts/${a2.body.id}`);
  assert.equal(back.status, 200);
  assert.equal((await api(page, "GET", `/api/v1/opportunities/${deal.body.id}`)).body.account_id, a2.body.id);
  await context.close();
});

test("bulk merge of contacts with the same email (English)", async () => {
  const base = server.base;
  const { context, page } = await session("en-US");
  for (const [family, given, email] of [["Smith", "Jane", "jane@example.com"], ["Smith", "J.", "JANE@example.com"], ["Li", "Lei", "lilei@example.com"], ["Li", "Lei", "lei.li@example.org"]]) {
    const c = await api(page, "POST", "/api/v1/contacts?override_duplicates=true", { family_name: family, given_name: given, email });
    assert.equal(c.status, 201);
  }
  await page.goto(`${base}/duplicates?object=contacts`);
  assert.equal(await page.locator("h1").innerText(), "Contacts · Duplicates");
  const byEmail = page.locator("tr.dup-group", { hasText: "Same email" });
  const byName = page.locator("tr.dup-group", { hasText: "Same name" });
  assert.equal(await byEmail.count(), 1);
  assert.equal(await byName.count(), 1);
  await byEmail.locator("input[name=group]").check();
  await byName.locator("input[name=group]").check();
  page.once("dialog", (d) => d.accept());
  await page.click("button.bulk-merge");
  await page.waitForURL(/notice=/);
  assert.match(await page.locator(".alert.ok").innerText(), /2 groups merged, 0 could not be merged/);
  assert.match(await page.locator(".dup-none").innerText(), /No likely duplicates/);
  await page.screenshot({ path: join(SHOTS, "duplicates-en.png"), fullPage: true });
  const list = await api(page, "GET", "/api/v1/contacts");
  assert.equal(list.body.data.length, 2);
  const li = list.body.data.find((c) => c.family_name === "Li");
  assert.deepEqual([li.email, li.emails], ["lilei@example.com", ["lei.li@example.org"]]);
  await context.close();
});
