#!/usr/bin/env node
// Patches gstreamer-superficial 1.7.4's Pipeline so that a pipeline libcamd is done with is
// freed, and rebuilds it. Unpatched, every Pipeline object lives for ever: PollBus takes a
// reference it never gives back, and ~Pipeline() never unrefs the GstPipeline. libcamd
// builds a pipeline for every camera reconnect and every still, so the daemon grew by the
// whole pipeline each time (0.35 MB per still measured with a 320x240 file; a camera's
// pipeline with its RTSP buffers is larger). Also, each bus poll kept a reference to the
// bus, and the bus's queued messages keep their elements (and the pipeline) alive: libcam
// turns auto-flush-bus off (see src/pipeline/gst.ts), so the destructor flushes it. Idempotent: an edit already made
// is left alone.
// Run by scripts/setup after npm ci.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MARK = '/* libcam: frees finished pipelines */';
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'gstreamer-superficial');

const edits = [
  {
    file: 'Pipeline.h',
    from: '\t\t~Pipeline() {}',
    // Flushing drops the bus's queued messages, which hold references to the pipeline.
    to:
      `\t\t${MARK}\n\t\t~Pipeline() {\n` +
      '\t\t\tif (!pipeline) return;\n' +
      '\t\t\tgst_element_set_state(GST_ELEMENT(pipeline), GST_STATE_NULL);\n' +
      '\t\t\tGstBus *bus = gst_element_get_bus(GST_ELEMENT(pipeline));\n' +
      '\t\t\tif (bus) { gst_bus_set_flushing(bus, TRUE); gst_object_unref(bus); }\n' +
      '\t\t\tgst_object_unref(pipeline);\n' +
      '\t\t}',
  },
  {
    file: 'Pipeline.cpp',
    from: '\tbr->msg = gst_bus_timed_pop(bus, GST_CLOCK_TIME_NONE);\n',
    // gst_element_get_bus returns a reference: without this every poll leaked one, so the
    // bus, and the elements its queued messages point to, outlived the pipeline.
    to: `\tbr->msg = gst_bus_timed_pop(bus, GST_CLOCK_TIME_NONE);\n\tgst_object_unref(bus); ${MARK}\n`,
  },
  {
    file: 'Pipeline.cpp',
    from: '\tif(GST_STATE(br->obj->pipeline) != GST_STATE_NULL)\n\t\tuv_queue_work(Nan::GetCurrentEventLoop(), &br->request, _doPollBus, _polledBus);\n',
    to:
      `\t${MARK}\n` +
      '\tif(GST_STATE(br->obj->pipeline) != GST_STATE_NULL) {\n' +
      '\t\tuv_queue_work(Nan::GetCurrentEventLoop(), &br->request, _doPollBus, _polledBus);\n' +
      '\t} else {\n' +
      '\t\tbr->obj->Unref(); // the reference PollBus took: the pipeline can be collected now\n' +
      '\t\tdelete br;\n' +
      '\t}\n',
  },
  {
    file: 'GObjectWrap.h',
    from: '\t\tGObjectWrap() {}\n\t\t~GObjectWrap() {}\n',
    // findChild wraps gst_bin_get_by_name's reference (transfer full) and never dropped it.
    to: `\t\t${MARK}\n\t\tGObjectWrap() : obj(NULL) {}\n\t\t~GObjectWrap() { if (obj) g_object_unref(obj); }\n`,
  },
];

let changed = false;
for (const { file, from, to } of edits) {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  if (text.includes(to)) continue;
  if (!text.includes(from)) {
    console.error(`patch-gstreamer-superficial: ${path} is not the 1.7.4 this patch was written for; not patched`);
    process.exit(1);
  }
  writeFileSync(path, text.replace(from, to));
  changed = true;
}
if (changed) {
  console.error('==> rebuilding gstreamer-superficial with the pipeline-freeing patch');
  execFileSync('npm', ['rebuild', 'gstreamer-superficial'], { cwd: join(dir, '..', '..'), stdio: ['ignore', 'ignore', 'inherit'] });
}
