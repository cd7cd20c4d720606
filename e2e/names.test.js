// People's names as their owners write them, in both languages: a Western name given name
// first with a space (Susan Johnson, never "JohnsonSusan"), a Chinese one family name first
// (张伟); on the contact's page and once in the account's timeline (the name was shown twice),
// on a desktop and at phone width. The contact's phone and email are tel: and mailto: links.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, launch, signIn, PASSWORD, SHOTS, api } from "./harness.js";

let server, browser;
before(async () => {
  server = await startServer();
  server.cli(["user", "create", "--email", "rep@example.com", "--password", PASSWORD, "--role", "sales_rep", "--name", "Rep"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});


const count = (text, s) => text.split(s).length - 1;

for (const [locale, width] of [["zh-CN", 1280], ["en-US", 390]]) {
  test(`names are written as their owners write them (${locale}, ${width} px)`, async () => {
    const context = await browser.newContext({ locale, viewport: { width, height: 900 } });
    const page = await context.newPage();
    await signIn(page, server.base, "rep@example.com");
    const account = await api(page, "POST", "/api/v1/accounts", { name: `Northwind ${locale}` });
    assert.equal(account.status, 201);
    const mobile = width < 600 ? "13912345678" : "13812345678";
    const susan = await api(page, "POST", "/api/v1/contacts", { family_name: "Johnson", given_name: "Susan", account_ids: [account.body.id], mobile, email: `susan.${locale.toLowerCase()}@example.com` });
    assert.equal(susan.status, 201);
    const zhang = await api(page, "POST", "/api/v1/contacts", { family_name: "张", given_name: "伟", account_ids: [account.body.id] });
    assert.equal(zhang.status, 201);

    await page.goto(`${server.base}/contacts/${susan.body.id}`);
    assert.equal((await page.locator("h1").innerText()).trim(), "Susan Johnson");
    // A phone can call the number and write to the address.
    const tel = page.locator(`#row-mobile a[href="tel:+86${mobile}"]`);
    assert.equal(await tel.count(), 1);
    assert.match(await tel.innerText(), /\d{3}.?\d{4}.?\d{4}/);
    assert.equal(await page.locator(`#row-email a[href="mailto:susan.${locale.toLowerCase()}@example.com"]`).count(), 1);

    await page.goto(`${server.base}/accounts/${account.body.id}`);
    const timeline = await page.locator("#timeline").innerText();
    assert.equal(count(timeline, "Susan Johnson"), 1, timeline);
    assert.equal(count(timeline, "张伟"), 1, timeline);
    assert.doesNotMatch(await page.locator("main").innerText(), /JohnsonSusan|Johnson Susan/);
    await page.screenshot({ path: join(SHOTS, `names-account-${locale}.png`), fullPage: true });
    await context.close();
  });
}
