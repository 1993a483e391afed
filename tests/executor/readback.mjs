// Reads a repo back through the official JS client (@huggingface/hub, pinned in tests/node):
// lists every file at a revision and downloads it, printing "path<TAB>sha256<TAB>size" per file
// (sorted by path), so a test can compare what hfsync committed with the local folder.
// Environment: HUB_URL, HF_TOKEN, REPO ("ns/name", "datasets/ns/name", …), REV (default main).
import { createHash } from "node:crypto";
import * as hub from "../node/node_modules/@huggingface/hub/dist/index.mjs";

const { HUB_URL, HF_TOKEN, REPO } = process.env;
const REV = process.env.REV || "main";
if (!HUB_URL || !HF_TOKEN || !REPO) {
	console.error("readback.mjs: set HUB_URL, HF_TOKEN and REPO");
	process.exit(2);
}
const creds = { hubUrl: HUB_URL, accessToken: HF_TOKEN };
const rows = [];
for await (const f of hub.listFiles({ repo: REPO, revision: REV, recursive: true, ...creds })) {
	if (f.type !== "file") continue;
	// downloadFile asks for bytes 0-0 and needs a Content-Range back, which an empty file
	// cannot have: its (empty) content is known from the listing.
	if (f.size === 0) {
		rows.push(`${f.path}\t${createHash("sha256").digest("hex")}\t0`);
		continue;
	}
	// downloadFile puts `path` into the URL as given: '#', '?' and '%' must be escaped.
	const path = f.path.split("/").map(encodeURIComponent).join("/");
	const blob = await hub.downloadFile({ repo: REPO, revision: REV, path, xet: false, ...creds });
	if (!blob) throw new Error(`downloadFile found no ${f.path}`);
	const bytes = Buffer.from(await blob.arrayBuffer());
	rows.push(`${f.path}\t${createHash("sha256").update(bytes).digest("hex")}\t${bytes.length}`);
}
rows.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
for (const r of rows) console.log(r);
