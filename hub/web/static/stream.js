// The live event stream (/api/stream): one WebSocket that resumes where it left off.
//
// The console remembers the last sequence number it has seen and reconnects with ?since=<that>, so the
// hub replays what was missed, with no gap and no duplicate; events at or below that number are dropped
// here as well, in case a replay overlaps. Reconnects back off (0.5 s doubling to 15 s, with jitter) and
// start again from the beginning once a connection has said hello. Close code 4401 means the session has
// ended: no reconnect, the console goes back to the login page.

const INITIAL_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class EventStream {
  constructor({ onEvents, onHello, onStatus, onSessionEnded }) {
    this.onEvents = onEvents;
    this.onHello = onHello || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onSessionEnded = onSessionEnded || (() => {});
    this.lastSeq = 0;
    this.socket = null;
    this.timer = null;
    this.delay = INITIAL_DELAY_MS;
    this.stopped = true;
    this.attempt = 0;
  }

  start(since) {
    this.stopped = false;
    this.endingSession = false;
    this.lastSeq = Math.max(this.lastSeq, Number(since) || 0);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000, "console closed");
    }
    this.onStatus("offline");
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}/api/stream?since=${encodeURIComponent(this.lastSeq)}`;
  }

  connect() {
    if (this.stopped) return;
    this.attempt += 1;
    this.onStatus(this.attempt === 1 ? "connecting" : "reconnecting");
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch (error) {
      this.schedule();
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (message) => {
      if (socket !== this.socket) return;
      this.receive(message.data);
    });
    socket.addEventListener("close", (close) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (close.code === 4401 || this.endingSession) {
        this.stopped = true;
        this.onStatus("offline");
        this.onSessionEnded();
        return;
      }
      this.schedule();
    });
    // An error is always followed by a close, which does the reconnecting.
  }

  schedule() {
    if (this.stopped) return;
    this.onStatus("reconnecting");
    const jitter = 0.75 + Math.random() * 0.5;
    this.timer = setTimeout(() => this.connect(), this.delay * jitter);
    this.delay = Math.min(MAX_DELAY_MS, this.delay * 2);
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (error) {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "closing") {
      // The hub says why before it closes; the close code itself can be lost on the way.
      if (Number(frame.code) === 4401) this.endingSession = true;
    } else if (frame.type === "hello") {
      this.delay = INITIAL_DELAY_MS;
      this.attempt = 0;
      this.onStatus("live");
      this.onHello(frame);
    } else if (frame.type === "events" && Array.isArray(frame.events)) {
      const fresh = [];
      for (const event of frame.events) {
        const seq = Number(event && event.seq);
        if (!Number.isFinite(seq) || seq <= this.lastSeq) continue;
        this.lastSeq = seq;
        fresh.push(event);
      }
      if (fresh.length) this.onEvents(fresh);
    }
  }
}
