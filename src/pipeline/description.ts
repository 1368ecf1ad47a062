import type { CameraConfig } from '../config/types.js';
import type { VideoCodec } from '../store/mp4.js';
import { endpointOf, type Endpoint } from './reachability.js';

/**
 * GStreamer pipeline descriptions, as pure functions of a camera's configuration.
 *
 * Nothing from the configuration that is free text (URLs, paths, credentials) is ever put
 * into the description: gst_parse_launch would read `! filesink location=…` in a URL as
 * more elements. Only schema-checked integers and enums appear in it; the rest is set as
 * element properties after construction (`properties`).
 *
 * Every description ends in the same recording tail: the parsed video goes through a stall
 * watchdog into a `tee` named `live`, then
 * splitmuxsink, which queues internally (a queue of ours cost a thread per camera), with
 * mp4mux writing fragmented MP4 in half-second fragments, so that a file cut short by a
 * crash still plays up to the last complete fragment. The file sink is unbuffered: each
 * fragment reaches the kernel as it is made (filesink's own 64 KB buffer would hold back
 * seconds of a low-bitrate camera from a crash and from a live still). Only the video stream is ever linked: a
 * camera's audio never reaches the muxer (policy §1).
 *
 * The tee's second branch is the live view's (src/pipeline/liveFeed.ts): a valve, shut
 * unless someone watches (and opened to let EOS through when the recorder stops the run:
 * a pipeline ends only once every sink has EOS), then a leaky queue (a slow viewer loses live frames, never
 * recording) and gdppay into an fdsink whose descriptor, a pipe to Node, is set per run.
 * It is codec-blind: whatever the camera sends, the branch only passes it on, so a caps
 * change mid-stream cannot fail it and take recording down with it.
 */
export interface PipelinePlan {
  description: string;
  /** Properties to set on named elements after construction. */
  properties: Record<string, Record<string, string | number | boolean>>;
  /**
   * Whether an EOS sent to the pipeline reaches splitmuxsink, so that stopping can close
   * the open segment properly. Not so behind a funnel: it passes EOS on only once every
   * input has it, and the branch of the codec the camera does not send never gets one.
   */
  eosReachesSink: boolean;
  /** Where the camera listens: probed during backoff to notice at once when it is back. */
  endpoint?: Endpoint | undefined;
  /**
   * Set when libcam's own RTSP client (src/pipeline/rtspClient.ts) feeds the pipeline:
   * the recorder opens the session first, learns the codec from the camera's description,
   * and builds `feedDescription(codec)` instead of `description`.
   */
  feed?: { source: NetworkSource; description: (codec: VideoCodec) => string } | undefined;
}


export const FRAGMENT_MS = 500;
/** Slack on top of the segment length: splitmuxsink only splits on keyframes. */
const SPLIT_SLACK_NS = 500_000_000;

/** Names of the live branch's elements, for src/pipeline/liveFeed.ts. */
export const LIVE_VALVE = 'liveValve';
export const LIVE_SINK = 'liveSink';
/** Every element of the live branch: an error from one of them is the live view's, not the recording's. */
export const LIVE_ELEMENTS: readonly string[] = [LIVE_VALVE, 'liveQueue', 'livePay', LIVE_SINK];
/** The most the live branch's queue holds before it drops the oldest frames. */
const LIVE_QUEUE_NS = 2_000_000_000;

/** The stall watchdog's element name and limit: no frame for this long is a lost camera. */
export const STALL_ELEMENT = 'stall';
export const STALL_MS = 5000;

/**
 * `watchdog` false leaves the stall watchdog out: libcam's RTSP client watches for a
 * stall itself, where frames arrive (GStreamer's watchdog re-arms a timer on another
 * thread at every frame: 5 % of libcamd's CPU at 16 cameras).
 */
function recordingTail(segmentSeconds: number, watchdog = true): string {
  const maxSizeTime = segmentSeconds * 1_000_000_000 + SPLIT_SLACK_NS;
  return (
    // rtspsrc posts nothing when a camera's TCP connection closes under it (seen with
    // GStreamer 1.22: no error, no EOS, the pipeline just waits), so the recorder would only
    // notice at its segment watchdog (3 segment lengths, 30 s by default) while status said
    // "recording". GStreamer's own watchdog posts an error after STALL_MS without a frame.
    // It starts disarmed (timeout 0): the recorder arms it once the first file opens, so a
    // camera slow to answer or to send its first keyframe is judged by rtspsrc's own
    // timeouts, which name what went wrong (refused, unauthorised, no UDP, no answer).
    (watchdog ? `watchdog name=${STALL_ELEMENT} timeout=0 ! ` : '') +
    'tee name=live allow-not-linked=true ' +
    `! splitmuxsink name=sink async-finalize=false max-size-time=${maxSizeTime} ` +
    `muxer="mp4mux fragment-duration=${FRAGMENT_MS}" sink="filesink buffer-mode=unbuffered" ` +
    `live. ! valve name=${LIVE_VALVE} drop=true ` +
    `! queue name=liveQueue leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=${LIVE_QUEUE_NS} ` +
    `! gdppay name=livePay ! fdsink name=${LIVE_SINK} sync=false async=false`
  );
}

/** How RTP reaches us from an RTSP camera: interleaved in the RTSP connection, or over UDP. */
export type Transport = 'tcp' | 'udp';

export interface NetworkSource {
  url: string;
  user?: string;
  password?: string;
}

/** The appsrc libcam's RTSP client pushes access units into: one element name for both paths. */
export const FEED_ELEMENT = 'src';
/** The most the appsrc holds when the pipeline falls behind, before it drops the oldest frames. */
const FEED_QUEUE_BYTES = 16 * 1024 * 1024;

/**
 * A pipeline fed access units by libcam's RTSP client: byte-stream caps, parsed by
 * GStreamer's parser (which makes the stream format mp4mux needs), then the recording tail.
 * The buffers carry the times the client gives them (the camera's RTP clock, held to
 * arrival), so appsrc does no timestamping of its own.
 */
export function feedDescription(codec: VideoCodec, segmentSeconds: number): string {
  const parse = codec === 'h264' ? 'h264parse' : 'h265parse';
  return (
    `appsrc name=${FEED_ELEMENT} is-live=true format=time do-timestamp=false max-bytes=${FEED_QUEUE_BYTES} leaky-type=downstream ` +
    `caps="video/x-${codec},stream-format=byte-stream,alignment=au" ! ${parse} ! ` +
    recordingTail(segmentSeconds, false)
  );
}

const DEPAYLOAD: Record<VideoCodec, string> = {
  h264: 'application/x-rtp,media=video,encoding-name=H264 ! rtph264depay ! h264parse',
  h265: 'application/x-rtp,media=video,encoding-name=H265 ! rtph265depay ! h265parse',
};

/**
 * An RTSP camera (also an ONVIF camera, once its stream URI is known). rtspsrc's pads
 * appear only once the camera has described its streams, and only a pad whose caps
 * match a branch is linked: audio (and ONVIF metadata) pads stay unlinked and their data
 * is dropped inside rtspsrc, so it never reaches the muxer.
 *
 * When the camera's codec is known (from its last recorded segment) there is one branch
 * for it. When it is not, one branch per codec joined by a funnel; the recorder learns
 * the codec from what it records. (parsebin would pick the depayloader by itself, but its
 * parser then cannot negotiate the stream format mp4mux needs: not-linked, seen here
 * with GStreamer 1.22.)
 */
export function rtspPlan(source: NetworkSource, segmentSeconds: number, codec?: VideoCodec, transport: Transport = 'tcp'): PipelinePlan {
  const src: Record<string, string | number | boolean> = { location: source.url };
  if (source.user !== undefined) src['user-id'] = source.user;
  if (source.password !== undefined) src['user-pw'] = source.password;
  // Over TCP (RTP interleaved in the RTSP connection) nothing is lost in transit: no
  // retransmission requests. Over UDP, for cameras that offer nothing else, packets may
  // arrive late or out of order: the jitterbuffer's defaults, still without retransmission
  // requests (cameras do not answer them). Either way the jitterbuffer times frames by
  // their arrival, smoothed by the RTP timestamps (buffer-mode slave), never by the RTP
  // timestamps alone: a camera whose clock steps an hour ahead would otherwise make footage
  // dated an hour in the future, and one whose timestamps go back would stop the muxer
  // ("Timestamping error") and lose seconds at each step (scripts/faults cameras).
  const rtsp =
    transport === 'tcp'
      ? 'rtspsrc name=src protocols=tcp latency=200 tcp-timeout=10000000 do-retransmission=false buffer-mode=slave '
      : 'rtspsrc name=src protocols=udp latency=200 do-retransmission=false ';
  const video = codec
    ? `${rtsp}src. ! ${DEPAYLOAD[codec]} ! `
    : `${rtsp}src. ! ${DEPAYLOAD.h264} ! funnel name=video src. ! ${DEPAYLOAD.h265} ! video. video. ! `;
  // RTP interleaved over TCP from an rtsp:// URL: libcam's own client (it costs a fraction
  // of rtspsrc per packet); rtspsrc for UDP and rtsps://.
  if (transport === 'tcp' && /^rtsp:\/\//i.test(source.url)) {
    return {
      description: feedDescription(codec ?? 'h264', segmentSeconds),
      properties: {},
      eosReachesSink: true,
      endpoint: endpointOf(source.url),
      feed: { source, description: (sent) => feedDescription(sent, segmentSeconds) },
    };
  }
  return {
    description: video + recordingTail(segmentSeconds),
    properties: { src },
    eosReachesSink: codec !== undefined,
    endpoint: endpointOf(source.url),
  };
}

/**
 * The built-in test picture, encoded here (the only place libcam encodes anything), in
 * 4:2:0 as cameras send it: left to choose, x264enc takes videotestsrc's 4:4:4 and writes
 * High 4:4:4, which browsers do not play.
 */
export function testPatternPlan(camera: CameraConfig, segmentSeconds: number): PipelinePlan {
  const source = camera.source;
  if (source.kind !== 'test-pattern') throw new TypeError(`${camera.name} is not a test-pattern camera`);
  const { width, height, fps, codec, pattern } = source;
  const encoder =
    codec === 'h264'
      ? `x264enc tune=zerolatency speed-preset=ultrafast key-int-max=${fps} ! h264parse`
      : `x265enc tune=zerolatency speed-preset=ultrafast key-int-max=${fps} ! h265parse`;
  return {
    description:
      `videotestsrc name=src is-live=true pattern=${pattern} ` +
      `! video/x-raw,format=I420,width=${width},height=${height},framerate=${fps}/1 ! ${encoder} ! ` +
      recordingTail(segmentSeconds),
    properties: {},
    eosReachesSink: true,
  };
}
