// The official JS client's side of bench/run: every file under DIR (dot-files and dot-folders
// left out, as hfsync's .hfsync cache), uploaded to REPO with uploadFiles and useXet false
// (LFS basic and multipart, as hfsync uses), in commits of BATCH files one after another
// (default: all in one commit). Prints the number of files and commits.
//
// Environment: HUB_URL, HF_TOKEN, REPO ("user/name", which must exist), DIR, BATCH.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import * as hub from "../../tests/node/node_modules/@huggingface/hub/dist/index.mjs";

const { HUB_URL, HF_TOKEN, REPO, DIR } = process.env;
const BATCH = Number(process.env.BATCH || Infinity);
if (!HUB_URL || !HF_TOKEN || !REPO || !DIR || !(BATCH > 0)) {
	console.error("upload.mjs: set HUB_URL, HF_TOKEN, REPO, DIR (and BATCH > 0 if at all)");
	process.exit(2);
}

function walk(dir, out) {
	for (const e of readdirSync(dir, { withFileTypes: true })) {
		if (e.name.startsWith(".")) continue;
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
		console.error("upload.mjs: uploadFiles returned no commit", JSON.stringify(out));
		process.exit(1);
	}
	commits++;
}
console.log(`${files.length} files, ${commits} commits`);
