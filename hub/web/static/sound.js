// The audible alarm for critical incidents, made with WebAudio (no sound file to fetch or license).
//
// Browsers only let a page make sound after a user gesture, so the operator switches sound on with a
// button (or any key or click once it has been switched on before: the choice is remembered in
// localStorage, and the first gesture after a reload resumes it).

const STORAGE_KEY = "hub.console.sound";

export class Alarm {
  constructor(onChange) {
    this.onChange = onChange || (() => {});
    this.wanted = readChoice();
    this.context = null;
    this.resumeOnGesture = this.resumeOnGesture.bind(this);
    if (this.wanted) {
      window.addEventListener("pointerdown", this.resumeOnGesture, true);
      window.addEventListener("keydown", this.resumeOnGesture, true);
    }
  }

  /** "off", "on", or "blocked" (wanted, but the browser is waiting for a gesture). */
  get state() {
    if (!this.wanted) return "off";
    return this.context && this.context.state === "running" ? "on" : "blocked";
  }

  ensureContext() {
    if (!this.context) {
      const AudioContext = window.AudioContext || window.webkitAudioContext;
      if (!AudioContext) return null;
      this.context = new AudioContext();
      this.context.addEventListener("statechange", () => this.onChange(this.state));
    }
    return this.context;
  }

  async resumeOnGesture() {
    if (!this.wanted) return;
    const context = this.ensureContext();
    if (context && context.state !== "running") {
      try {
        await context.resume();
      } catch (error) {
        // Still blocked: the next gesture tries again.
        return;
      }
    }
    if (this.state === "on") {
      window.removeEventListener("pointerdown", this.resumeOnGesture, true);
      window.removeEventListener("keydown", this.resumeOnGesture, true);
    }
    this.onChange(this.state);
  }

  /** Switch sound on or off; call from a click or key handler so the browser allows it. */
  async toggle() {
    this.wanted = !this.wanted;
    writeChoice(this.wanted);
    if (this.wanted) {
      await this.resumeOnGesture();
      this.chime();
    } else if (this.context) {
      await this.context.suspend().catch(() => {});
    }
    this.onChange(this.state);
  }

  /** Three falling two-tone pulses: the critical alarm. */
  alarm() {
    this.tones([[988, 0.0], [740, 0.16], [988, 0.4], [740, 0.56], [988, 0.8], [740, 0.96]], 0.14, 0.25);
  }

  /** One short soft tone: sound has been switched on. */
  chime() {
    this.tones([[660, 0.0]], 0.12, 0.12);
  }

  tones(notes, length, volume) {
    if (!this.wanted || !this.context || this.context.state !== "running") return false;
    const start = this.context.currentTime + 0.02;
    for (const [frequency, offset] of notes) {
      const oscillator = this.context.createOscillator();
      const gain = this.context.createGain();
      oscillator.type = "square";
      oscillator.frequency.value = frequency;
      // A short ramp in and out: a hard edge clicks in the speakers.
      gain.gain.setValueAtTime(0, start + offset);
      gain.gain.linearRampToValueAtTime(volume, start + offset + 0.01);
      gain.gain.setValueAtTime(volume, start + offset + length - 0.02);
      gain.gain.linearRampToValueAtTime(0, start + offset + length);
      oscillator.connect(gain).connect(this.context.destination);
      oscillator.start(start + offset);
      oscillator.stop(start + offset + length + 0.01);
    }
    return true;
  }
}

function readChoice() {
  try {
    return window.localStorage.getItem(STORAGE_KEY) === "on";
  } catch (error) {
    return false;
  }
}

function writeChoice(on) {
  try {
    window.localStorage.setItem(STORAGE_KEY, on ? "on" : "off");
  } catch (error) {
    // Private mode: the choice lasts for this page only.
  }
}
