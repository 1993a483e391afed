// The official JS client's side of the upload benchmark: every file under DIR, in one
// uploadFiles call with useXet: false (LFS basic and multipart, as hfsync uses), to REPO.
//
// Environment: HUB_URL, HF_TOKEN, REPO ("user/name", which must exist), DIR.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import * as hub from "../../tests/node/node_modules/@huggingface/hub/dist/index.mjs";

const { HUB_URL, HF_TOKEN, REPO, DIR } = process.env;
if (!HUB_URL || !HF_TOKEN || !REPO || !DIR) {
	console.error("js-upload.mjs: set HUB_URL, HF_TOKEN, REPO and DIR");
	process.exit(2);
}

function walk(dir, out) {
	for (const e of readdirSync(dir, { withFileTypes: true })) {
		const p = join(dir, e.name);
		if (e.isDirectory()) walk(p, out);
		else if (e.isFile()) out.push({ path: relative(DIR, p), content: pathToFileURL(p) });
	}
	return out;
}

const files = walk(DIR, []);
const out = await hub.uploadFiles({
	hubUrl: HUB_URL,
	accessToken: HF_TOKEN,
	repo: REPO,
	files,
	useXet: false,
	commitTitle: `Upload ${files.length} files`,
});
if (!out?.commit?.oid) {
	console.error("js-upload.mjs: uploadFiles returned no commit", JSON.stringify(out));
	process.exit(1);
}
console.log(`${files.length} files, commit ${out.commit.oid}`);
