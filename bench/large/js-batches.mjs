// The official JS client's side of the large-upload benchmark: every file under DIR, in
// commits of BATCH files (uploadFiles, useXet false), one after another, to REPO.
//
// Environment: HUB_URL, HF_TOKEN, REPO ("user/name", which must exist), DIR, BATCH.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import * as hub from "../../tests/node/node_modules/@huggingface/hub/dist/index.mjs";

const { HUB_URL, HF_TOKEN, REPO, DIR } = process.env;
const BATCH = Number(process.env.BATCH || 1000);
if (!HUB_URL || !HF_TOKEN || !REPO || !DIR || !(BATCH > 0)) {
	console.error("js-batches.mjs: set HUB_URL, HF_TOKEN, REPO, DIR and BATCH");
	process.exit(2);
}

function walk(dir, out) {
	for (const e of readdirSync(dir, { withFileTypes: true })) {
		if (e.name.startsWith(".")) continue; // .hfsync, the generator's stamp
		const p = join(dir, e.name);
		if (e.isDirectory()) walk(p, out);
		else if (e.isFile()) out.push({ path: relative(DIR, p), content: pathToFileURL(p) });
	}
	return out;
}

const files = walk(DIR, []).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
let commits = 0;
for (let i = 0; i < files.length; i += BATCH) {
	const batch = files.slice(i, i + BATCH);
	const out = await hub.uploadFiles({
		hubUrl: HUB_URL,
		accessToken: HF_TOKEN,
		repo: REPO,
		files: batch,
		useXet: false,
		commitTitle: `Upload files ${i + 1}-${i + batch.length}`,
	});
	if (!out?.commit?.oid) {
		console.error("js-batches.mjs: uploadFiles returned no commit", JSON.stringify(out));
		process.exit(1);
	}
	commits++;
}
console.log(`${files.length} files, ${commits} commits`);
