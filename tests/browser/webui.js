// webui.js — the WebUI end to end in headless Chromium (driven by playwright-core; run by
// tests/sh/test_server_browser.sh): create a configuration from the tiny preset, edit it in the
// form (a validation error shown at its field, then saved), open the dataset page, start a short
// run and wait for the loss chart (>= 3 points) and a validation sheet, then run an edit with an
// uploaded reference (one by file picker, one by drag and drop) and check the result is displayed.
// A screenshot of each page goes to OUT_DIR.
//   node webui.js URL OUT_DIR REFERENCE.png [PLAYWRIGHT_DIR]
'use strict';
const path = require('path');
const fs = require('fs');
const [url, outDir, refPng, pwDir] = process.argv.slice(2);
const { chromium } = require(pwDir ? path.join(pwDir, 'playwright-core') : 'playwright-core');

const step = (m) => console.log('browser: ' + m);
function fail(m) { throw new Error(m); }

(async () => {
  const profile = fs.mkdtempSync(path.join(outDir, 'profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1100, height: 760 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', r => { if (r.status() >= 400) errors.push(r.status() + ' ' + r.url()); });
  page.on('dialog', d => d.accept());
  page.setDefaultTimeout(120000);
  const shot = (name, full) => page.screenshot({ path: path.join(outDir, name + '.png'), fullPage: !!full });
  try {
    // ---- Configurations: create from the tiny preset ----
    await page.goto(url + '#/configs');
    await page.waitForSelector('#new-preset option[value="tiny.qwen_image.edit-v2-lora"]', { state: 'attached' });
    await page.fill('#new-name', 'webui');
    await page.selectOption('#new-preset', 'tiny.qwen_image.edit-v2-lora');
    await page.click('#new-create');
    await page.waitForFunction(() => location.hash === '#/config/webui');
    await page.waitForSelector('.field[data-key="max_train_steps"] input');
    step('configuration created');
    // a wrong value: the loader's message appears at its field
    await page.fill('#opt-lora_rank', 'abc');
    await page.click('#validate');
    await page.waitForFunction(() => {
      const e = document.querySelector('.field[data-key="lora_rank"] .err');
      return e && /lora_rank' expects a number/.test(e.textContent);
    });
    step('validation error shown next to lora_rank');
    await page.fill('#opt-lora_rank', '4');
    await page.fill('#opt-max_train_steps', '4');
    await page.fill('#opt-checkpoint_step_interval', '2');
    await page.fill('#opt-validation_step_interval', '2');
    await page.fill('#opt-validation_num_inference_steps', '2');
    await page.fill('#opt-output_dir', 'output/webui');
    await page.click('#save');
    await page.waitForSelector('#config-status .notice.ok >> text=Saved');
    step('configuration saved');
    await shot('configuration');
    await page.goto(url + '#/configs');
    await page.waitForSelector('#config-list tr[data-name="webui"]');
    await shot('configurations');

    // ---- Datasets ----
    await page.goto(url + '#/datasets/webui');
    await page.waitForSelector('table.pairs img');
    await page.waitForFunction(() => [...document.querySelectorAll('table.pairs img')].every(i => i.complete && i.naturalWidth > 0));
    const found = await page.textContent('[data-dataset="edit-images"] .found');
    if (!/8 images found, 8 used, 0 skipped/.test(found)) fail('dataset page: ' + found);
    step('dataset page: ' + found);
    await shot('datasets');

    // ---- Training run: chart and validation sheet ----
    await page.goto(url + '#/run/webui');
    await page.waitForSelector('#run-start');
    await page.click('#run-start');
    await page.waitForFunction(() => Number(document.getElementById('loss-chart').dataset.points || 0) >= 3, null, { timeout: 300000 });
    step('loss chart has >= 3 points');
    await page.waitForFunction(() => [...document.querySelectorAll('#sheets img')].some(i => i.complete && i.naturalWidth > 0), null, { timeout: 300000 });
    step('validation sheet displayed');
    await page.waitForFunction(() => /finished|stopped|failed/.test(document.getElementById('run-state').textContent), null, { timeout: 300000 });
    const state = await page.textContent('#run-state');
    if (state !== 'finished') fail('run state: ' + state);
    await page.waitForSelector('#checkpoints a[download]');
    await shot('training-run');
    step('run finished');

    // ---- Edit: references by file picker and by drag and drop ----
    await page.goto(url + '#/edit');
    await page.waitForSelector('#edit-config option[value="webui"]', { state: 'attached' });
    await page.selectOption('#edit-config', 'webui');
    await page.waitForFunction(() => document.getElementById('edit-lora').options.length > 1);
    await page.setInputFiles('#edit-file', refPng);
    await page.waitForSelector('#edit-refs img');
    const bytes = fs.readFileSync(refPng).toString('base64');
    await page.evaluate(async (b64) => {
      const bin = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bin], 'dropped.png', { type: 'image/png' }));
      const drop = document.getElementById('edit-drop');
      drop.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      drop.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForFunction(() => document.querySelectorAll('#edit-refs img').length === 2);
    step('two references uploaded (picker and drop)');
    await page.fill('#edit-prompt', 'make the circle blue');
    await page.fill('#edit-steps', '3');
    await page.fill('#edit-resolution', '128x128');
    await page.click('#edit-run');
    await page.waitForFunction(() => { const i = document.getElementById('edit-result-img'); return i && i.complete && i.naturalWidth === 128; }, null, { timeout: 300000 });
    const refsShown = await page.$$eval('#edit-result figure img', imgs => imgs.length);
    if (refsShown !== 3) fail('the result should sit beside the 2 references: ' + refsShown + ' images');
    const dl = await page.getAttribute('#edit-download', 'href');
    if (!/\/api\/edits\/\d+\/files\/result\.png\?download=1$/.test(dl)) fail('download link: ' + dl);
    step('edit result displayed');
    await shot('edit', true);
    if (errors.length) fail('page errors: ' + errors.join(' | '));
    console.log('browser: ok');
  } catch (e) {
    await shot('failure').catch(() => {});
    console.error('browser: FAILED: ' + (e && e.stack || e));
    if (errors.length) console.error('page errors: ' + errors.join(' | '));
    process.exitCode = 1;
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})();
