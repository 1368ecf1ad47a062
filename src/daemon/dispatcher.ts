import { Ajv, type ValidateFunction } from 'ajv';
import { LibcamError } from '../errors.js';
import type { Streamed } from './streamed.js';
import { METHOD_NAMES, PARAM_PATTERN_HINTS, PARAM_SCHEMAS, isMethodName, type Caller, type MethodName, type Methods, type Request } from '../protocol.js';

export interface CallContext {
  /** Who is asking, from the kernel. */
  caller: Caller;
  progress: (data: unknown) => void;
}

/** What a handler gives back: the method's result, or for a file (export.fetch) the file itself. */
export type HandlerResult<M extends MethodName> = M extends 'export.fetch' ? Streamed : Methods[M]['result'];

export type Handlers = {
  [M in MethodName]: (params: Methods[M]['params'], ctx: CallContext) => Promise<HandlerResult<M>>;
};

type Validators = { [M in MethodName]: ValidateFunction<Methods[M]['params']> };

const ajv = new Ajv({ allErrors: true, useDefaults: true });

function compileAll(): Validators {
  return {
    status: ajv.compile<Methods['status']['params']>(PARAM_SCHEMAS.status),
    'cameras.list': ajv.compile<Methods['cameras.list']['params']>(PARAM_SCHEMAS['cameras.list']),
    recordings: ajv.compile<Methods['recordings']['params']>(PARAM_SCHEMAS.recordings),
    prune: ajv.compile<Methods['prune']['params']>(PARAM_SCHEMAS.prune),
    fsck: ajv.compile<Methods['fsck']['params']>(PARAM_SCHEMAS.fsck),
    'prune.receipts': ajv.compile<Methods['prune.receipts']['params']>(PARAM_SCHEMAS['prune.receipts']),
    'audit.list': ajv.compile<Methods['audit.list']['params']>(PARAM_SCHEMAS['audit.list']),
    'audit.verify': ajv.compile<Methods['audit.verify']['params']>(PARAM_SCHEMAS['audit.verify']),
    pause: ajv.compile<Methods['pause']['params']>(PARAM_SCHEMAS.pause),
    resume: ajv.compile<Methods['resume']['params']>(PARAM_SCHEMAS.resume),
    'holds.list': ajv.compile<Methods['holds.list']['params']>(PARAM_SCHEMAS['holds.list']),
    'holds.place': ajv.compile<Methods['holds.place']['params']>(PARAM_SCHEMAS['holds.place']),
    'holds.release': ajv.compile<Methods['holds.release']['params']>(PARAM_SCHEMAS['holds.release']),
    still: ajv.compile<Methods['still']['params']>(PARAM_SCHEMAS.still),
    doctor: ajv.compile<Methods['doctor']['params']>(PARAM_SCHEMAS.doctor),
    isolate: ajv.compile<Methods['isolate']['params']>(PARAM_SCHEMAS.isolate),
    'incidents.list': ajv.compile<Methods['incidents.list']['params']>(PARAM_SCHEMAS['incidents.list']),
    'incidents.show': ajv.compile<Methods['incidents.show']['params']>(PARAM_SCHEMAS['incidents.show']),
    'incidents.release': ajv.compile<Methods['incidents.release']['params']>(PARAM_SCHEMAS['incidents.release']),
    'approvers.list': ajv.compile<Methods['approvers.list']['params']>(PARAM_SCHEMAS['approvers.list']),
    'approvers.enroll': ajv.compile<Methods['approvers.enroll']['params']>(PARAM_SCHEMAS['approvers.enroll']),
    'approvers.revoke': ajv.compile<Methods['approvers.revoke']['params']>(PARAM_SCHEMAS['approvers.revoke']),
    'export.request': ajv.compile<Methods['export.request']['params']>(PARAM_SCHEMAS['export.request']),
    'export.show': ajv.compile<Methods['export.show']['params']>(PARAM_SCHEMAS['export.show']),
    'export.approve': ajv.compile<Methods['export.approve']['params']>(PARAM_SCHEMAS['export.approve']),
    'export.complete': ajv.compile<Methods['export.complete']['params']>(PARAM_SCHEMAS['export.complete']),
    'export.fetch': ajv.compile<Methods['export.fetch']['params']>(PARAM_SCHEMAS['export.fetch']),
    'export.delivered': ajv.compile<Methods['export.delivered']['params']>(PARAM_SCHEMAS['export.delivered']),
    'staff.list': ajv.compile<Methods['staff.list']['params']>(PARAM_SCHEMAS['staff.list']),
    'staff.add': ajv.compile<Methods['staff.add']['params']>(PARAM_SCHEMAS['staff.add']),
    'staff.passwd': ajv.compile<Methods['staff.passwd']['params']>(PARAM_SCHEMAS['staff.passwd']),
    'staff.remove': ajv.compile<Methods['staff.remove']['params']>(PARAM_SCHEMAS['staff.remove']),
  };
}

const validators = compileAll();

/** `/requestedBy` → `--requested-by`: the flag a person typed; the params object itself → `params`. */
function flagOf(instancePath: string): string {
  const field = instancePath.split('/').filter(Boolean)[0];
  return field === undefined ? 'params' : `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Routes a request to its handler once its params match the method's schema. */
export class Dispatcher {
  constructor(private readonly handlers: Handlers) {}

  async handle(request: Request, caller: Caller, progress: (data: unknown) => void): Promise<unknown> {
    const { method } = request;
    if (!isMethodName(method)) {
      throw new LibcamError('usage', `unknown method "${method}"; known: ${METHOD_NAMES.join(', ')}`, { method });
    }
    return this.call(method, request.params ?? {}, { caller, progress });
  }

  private async call<M extends MethodName>(method: M, params: unknown, ctx: CallContext): Promise<HandlerResult<M>> {
    const validate: ValidateFunction<Methods[M]['params']> = validators[method];
    if (!validate(params)) {
      const problems = (validate.errors ?? []).map((e) => {
        const allowed: unknown = e.params['allowedValues'];
        const pattern: unknown = e.params['pattern'];
        const hint = e.keyword === 'pattern' && typeof pattern === 'string' ? PARAM_PATTERN_HINTS[pattern] : undefined;
        const extra =
          e.keyword === 'additionalProperties'
            ? ` (${String(e.params['additionalProperty'])})`
            : Array.isArray(allowed)
              ? `: ${allowed.map(String).join(', ')}`
              : '';
        return `${flagOf(e.instancePath)} ${hint ?? e.message ?? e.keyword}${extra}`;
      });
      throw new LibcamError('usage', `invalid params for ${method}: ${problems.join('; ')}`, { method, problems });
    }
    const handler: Handlers[M] = this.handlers[method];
    return handler(params, ctx);
  }
}
