/**
 * Local subscriptions of open streams, fed by the bus. A log stream
 * registers the deployment ids it shows and is poked whenever one of them
 * changes on any replica (or when the bus may have missed events). Every
 * stream also registers the credential it was opened with, and is ended when
 * that token is revoked or that session signs out on any replica, or when
 * the server shuts down.
 */
import type { Credential } from '../auth/access.js';
import type { Bus } from '../bus/bus.js';

export type ChangeListener = (deploymentIds: readonly string[] | 'all') => void;

export class DeploymentWatcher {
  private readonly byId = new Map<string, Set<ChangeListener>>();
  private readonly closers = new Set<() => void>();
  /** Stream enders by credential: `token:ID` or `session:ID`. */
  private readonly byCredential = new Map<string, Set<() => void>>();
  private readonly unsubscribe: () => void;

  constructor(bus: Bus) {
    this.unsubscribe = bus.subscribe((event) => {
      // A deployment superseded by a new one changed too: its open log pages hear it at once.
      const changed = event.kind === 'deployment-changed' ? event.deploymentIds : event.kind === 'deploy' ? event.superseded : null;
      if (changed) {
        const hits = new Map<ChangeListener, string[]>();
        for (const id of changed) {
          for (const listener of this.byId.get(id) ?? []) {
            const list = hits.get(listener) ?? [];
            list.push(id);
            hits.set(listener, list);
          }
        }
        for (const [listener, ids] of hits) listener(ids);
      } else if (event.kind === 'token-revoked') {
        this.endCredential(`token:${event.tokenId}`);
      } else if (event.kind === 'session-ended') {
        this.endCredential(`session:${event.sessionId}`);
      } else if (event.kind === 'resync') {
        const everyone = new Set<ChangeListener>();
        for (const set of this.byId.values()) for (const l of set) everyone.add(l);
        for (const l of everyone) l('all');
      }
    });
  }

  watch(ids: readonly string[], listener: ChangeListener): () => void {
    for (const id of ids) {
      let set = this.byId.get(id);
      if (!set) this.byId.set(id, (set = new Set()));
      set.add(listener);
    }
    return () => {
      for (const id of ids) {
        const set = this.byId.get(id);
        set?.delete(listener);
        if (set?.size === 0) this.byId.delete(id);
      }
    };
  }

  /** Registers a function to run when the server shuts down (e.g. ending a stream). */
  onClose(fn: () => void): () => void {
    this.closers.add(fn);
    return () => this.closers.delete(fn);
  }

  /** Registers a function that ends a stream when its credential ends (token revoked, session signed out). */
  onCredentialEnd(credential: Credential, fn: () => void): () => void {
    const key = `${credential.kind}:${credential.id}`;
    let set = this.byCredential.get(key);
    if (!set) this.byCredential.set(key, (set = new Set()));
    set.add(fn);
    return () => {
      const current = this.byCredential.get(key);
      current?.delete(fn);
      if (current?.size === 0) this.byCredential.delete(key);
    };
  }

  private endCredential(key: string): void {
    const enders = this.byCredential.get(key);
    this.byCredential.delete(key);
    for (const fn of enders ?? []) fn();
  }

  close(): void {
    this.unsubscribe();
    for (const fn of [...this.closers]) fn();
    this.closers.clear();
    this.byId.clear();
    this.byCredential.clear();
  }
}
