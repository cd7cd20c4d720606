// Search finds a brand inside a Chinese company name (海川 in 宁波海川物流有限公司), a given
// name inside a Chinese person's name, and Western names word by word; the search page groups
// what it finds by record type, leads and quotes (by number) included; a rep finds only what
// they may see. In both languages, on a desktop and at phone width.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, launch, signIn, PASSWORD, SHOTS, api } from "./harness.js";

let server, browser;
before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "rep@example.com", "--password", PASSWORD, "--role", "sales_rep", "--name", "Rep"]);
  server.cli(["user", "create", "--email", "rep2@example.com", "--password", PASSWORD, "--role", "sales_rep", "--name", "Rep Two"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

for (const [locale, width, tag] of [["zh-CN", 1280, "甲"], ["en-US", 390, "乙"]]) {
  test(`search finds words inside names, grouped by type (${locale}, ${width} px)`, async () => {
    const context = await browser.newContext({ locale, viewport: { width, height: 900 } });
    const page = await context.newPage();
    await signIn(page, server.base, "rep@example.com");
    const company = `宁波海川${tag}物流有限公司`;
    const account = await api(page, "POST", "/api/v1/accounts", { name: company });
    assert.equal(account.status, 201, JSON.stringify(account.body));
    const person = await api(page, "POST", "/api/v1/contacts", {
      family_name: "王", given_name: `小明${tag}`,
      accounts: [{ account_id: account.body.id, role: "user" }],
    });
    assert.equal(person.status, 201, JSON.stringify(person.body));
    const grace = await api(page, "POST", "/api/v1/contacts", { family_name: "Smith", given_name: `Grace${locale.slice(0, 2)}` });
    assert.equal(grace.status, 201);
    const lead = await api(page, "POST", "/api/v1/leads", { family_name: "李", given_name: "娜", company: `海川${tag}咨询` });
    assert.equal(lead.status, 201, JSON.stringify(lead.body));

    // The brand inside the name: the account, its contact and the lead, each under its type.
    await page.goto(`${server.base}/search?q=${encodeURIComponent(`海川${tag}`)}`);
    const groups = page.locator("section.search-group");
    const text = await page.locator("main").innerText();
    assert.match(text, new RegExp(company));
    assert.match(text, new RegExp(`王小明${tag}`));
    assert.match(text, new RegExp(`海川${tag}咨询|李娜`));
    const titles = await groups.locator("h2").allInnerTexts();
    const [accounts, contacts, leads] = locale === "zh-CN" ? ["客户", "联系人", "线索"] : ["Accounts", "Contacts", "Leads"];
    for (const want of [accounts, contacts, leads]) {
      assert.ok(titles.some((t) => t.startsWith(want)), `${want} in ${titles}`);
    }
    await page.screenshot({ path: join(SHOTS, `search-${locale}.png`), fullPage: true });

    // Type-ahead in the top bar, from anywhere: Ctrl+K, type, arrow down, Enter.
    await page.goto(`${server.base}/`);
    await page.keyboard.press("Control+k");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("role")), "combobox");
    await page.keyboard.type(`海川${tag}物流`);
    const box = page.locator("#search-suggest");
    await box.waitFor({ state: "visible" });
    assert.match(await box.innerText(), new RegExp(company));
    assert.match(await box.innerText(), new RegExp(accounts));
    await page.screenshot({ path: join(SHOTS, `search-suggest-${locale}.png`) });
    await page.keyboard.press("ArrowDown");
    await Promise.all([page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/), page.keyboard.press("Enter")]);
    assert.match(await page.locator("h1").innerText(), new RegExp(company));

    // A given name inside a Chinese name; a Western name by the start of its words.
    await page.goto(`${server.base}/search?q=${encodeURIComponent(`小明${tag}`)}`);
    assert.match(await page.locator("main").innerText(), new RegExp(`王小明${tag}`));
    await page.goto(`${server.base}/search?q=${encodeURIComponent(`grace${locale.slice(0, 2)} smi`)}`);
    assert.match(await page.locator("main").innerText(), new RegExp(`Grace${locale.slice(0, 2)} Smith`, "i"));

    // The list's own search box does the same.
    await page.goto(`${server.base}/accounts?q=${encodeURIComponent(`海川${tag}物流`)}`);
    assert.match(await page.locator("main").innerText(), new RegExp(company));

    // Another rep sees none of it.
    const other = await browser.newContext({ locale, viewport: { width, height: 900 } });
    const page2 = await other.newPage();
    await signIn(page2, server.base, "rep2@example.com");
    await page2.goto(`${server.base}/search?q=${encodeURIComponent(`海川${tag}`)}`);
    const seen = await page2.locator("main").innerText();
    assert.doesNotMatch(seen, new RegExp(company));
    assert.doesNotMatch(seen, new RegExp(`王小明${tag}`));
    await other.close();

    // No page scrolls sideways at phone width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `scrolls sideways by ${overflow}px`);
    await context.close();
  });
}
