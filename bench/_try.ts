import { benchBatchMode } from "./batch-mode.ts";

const t = await benchBatchMode();
console.log(JSON.stringify(t, null, 1));
