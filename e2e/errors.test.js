// Error pages look like the site: a page that does not exist and a record that cannot be
// found answer 404 with the page's language, a title and heading saying so, the brand and a
// way home, in both languages and at phone width; the site has an icon; the API still answers
// a missing route with a problem document.
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

const words = {
  "zh-CN": { lang: "zh-CN", title: "找不到页面", home: "返回工作台" },
  "en-US": { lang: "en", title: "Page not found", home: "Back to the home page" },
};

for (const [locale, width] of [["zh-CN", 1280], ["en-US", 390]]) {
  test(`error pages have the site's look, a title and a language (${locale}, ${width} px)`, async () => {
    const w = words[locale];
    const context = await browser.newContext({ locale, viewport: { width, height: 800 } });
    const page = await context.newPage();

    // Signed out, an address with no page (one that could be a list sends to sign-in).
    const res = await page.goto(`${server.base}/no/such/page/here`);
    assert.equal(res.status(), 404);
    assert.equal(await page.getAttribute("html", "lang"), w.lang);
    assert.equal(await page.title(), `${w.title} · Rapport`);
    assert.equal((await page.locator("h1").innerText()).trim(), w.title);
    assert.equal((await page.locator("main a[href='/']").innerText()).trim(), w.home);
    assert.equal(await page.locator(".topbar .brand").count(), 1);
    assert.equal(await page.locator("link[rel=icon]").getAttribute("href"), "/favicon.svg");
    await page.screenshot({ path: join(SHOTS, `error-404-${locale}.png`), fullPage: true });

    // Signed in, a list that does not exist and a record that is not there (or not theirs).
    await signIn(page, server.base, "rep@example.com");
    const list = await page.goto(`${server.base}/no-such-page`);
    assert.equal(list.status(), 404);
    assert.equal((await page.locator("h1").innerText()).trim(), w.title);
    const missing = await page.goto(`${server.base}/accounts/00000000-0000-7000-8000-000000000000`);
    assert.equal(missing.status(), 404);
    assert.equal(await page.getAttribute("html", "lang"), w.lang);
    assert.equal((await page.locator("h1").innerText()).trim(), w.title);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `scrolls sideways by ${overflow}px`);

    // The icon, and the API's own answer for a missing route.
    const icon = await page.request.get(`${server.base}/favicon.svg`);
    assert.equal(icon.status(), 200);
    assert.match(icon.headers()["content-type"], /image\/svg\+xml/);
    assert.equal((await page.request.get(`${server.base}/favicon.ico`)).status(), 200);
    const problem = await api(page, "GET", "/api/v1/no-such-thing");
    assert.equal(problem.status, 404);
    assert.ok(problem.body?.code, "a problem document, not a page");
    await context.close();
  });
}
