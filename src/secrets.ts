import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';
import { LibcamError } from './errors.js';

/**
 * What libcam does with secrets people choose: judges their strength with zxcvbn (the
 * maintained estimator, not a length rule) and derives keys from them with scrypt, whose
 * parameters are stored beside what they protect so they can be raised later.
 */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

const SCRYPT_MAXMEM = 256 * 1024 * 1024;

let estimator: ZxcvbnFactory | undefined;

/** Refuses a secret below `minScore` (zxcvbn's 0-4), with zxcvbn's own advice. */
export function checkStrength(secret: string, userInputs: string[], what: { name: string; flag: string; minScore: number }): void {
  estimator ??= new ZxcvbnFactory({ dictionary: { ...common.dictionary, ...en.dictionary }, graphs: common.adjacencyGraphs, translations: en.translations });
  const result = estimator.check(secret, [...userInputs, 'libcam', 'library', 'camera']);
  if (result.score < what.minScore) {
    const advice = [result.feedback.warning, ...result.feedback.suggestions].filter((s) => s).map((s) => s?.replace(/\.$/, '')).join('; ');
    throw new LibcamError('invalid-input', `${what.name} too weak (strength ${result.score} of 4, at least ${what.minScore} needed)${advice ? `: ${advice}` : ''}; a few unrelated words do well`, {
      flag: what.flag,
    });
  }
}

/** scrypt of `secret`, 32 bytes. */
export function derive(secret: string, salt: Buffer, k: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, 32, { N: k.N, r: k.r, p: k.p, maxmem: SCRYPT_MAXMEM }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** A password as stored: scrypt with its parameters and salt, never the password. */
export interface PasswordHash extends ScryptParams {
  kdf: 'scrypt';
  salt: string;
  hash: string;
}

export async function hashPassword(password: string, params: ScryptParams): Promise<PasswordHash> {
  const salt = randomBytes(16);
  return { kdf: 'scrypt', ...params, salt: salt.toString('base64'), hash: (await derive(password, salt, params)).toString('base64') };
}

/** Whether `password` is the one hashed, compared in constant time. */
export async function passwordMatches(stored: PasswordHash, password: string): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const got = await derive(password, Buffer.from(stored.salt, 'base64'), stored);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
