// WhatsApp groups of an instance: the cached list with metadata, one group, create, and participant changes.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope } from '../../core/access.js';
import { normalizeRecipient } from '../../core/addressing.js';
import { SbError } from '../../domain/errors.js';
import type { Instance, Principal } from '../../domain/model.js';
import { principal } from '../auth.js';
import { errorBody, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';

const participant = z.object({
  id: z.string().describe('Phone JID when known, else the LID.'),
  phone: z.string().nullable().describe('E.164 phone, when known.'),
  admin: z.enum(['admin', 'superadmin']).nullable(),
});

export const groupView = z
  .object({
    id: z.string().describe('`<digits>@g.us`'),
    subject: z.string(),
    description: z.string().nullable(),
    owner: z.string().nullable(),
    owner_phone: z.string().nullable(),
    created_at: z.string().nullable(),
    size: z.number(),
    announce: z.boolean().describe('Only admins may send.'),
    restrict: z.boolean().describe('Only admins may edit the group info.'),
    participants: z.array(participant),
  })
  .meta({ id: 'Group' });

const groupParam = uuidParam.extend({
  groupId: z
    .string()
    .trim()
    .regex(/^\d{5,40}(-\d{5,15})?@g\.us$/, 'a WhatsApp group id, `<digits>@g.us`'),
});

const people = z
  .array(z.string().trim().min(1).max(64))
  .min(1)
  .max(256)
  .describe('Phone numbers (E.164 or digits) or WhatsApp JIDs.');

const errors = { 409: errorBody, 422: errorBody, 429: errorBody, ...stdErrors };

/** Route plugin: groups through the instance's provider (capability `groups`). */
export const groupRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'instances' | 'supervisor'>> = async (
  app,
  { instances, supervisor },
) => {
  const tags = ['groups'];
  const groupsInstance = async (p: Principal, id: string): Promise<Instance> => {
    const inst = await instances.get(p, id);
    if (!instances.provider(inst.provider).capabilities.has('groups')) {
      throw new SbError('SB_ERR_UNSUPPORTED', `provider ${inst.provider} has no groups`);
    }
    return inst;
  };
  const jids = (inst: Instance, list: string[]) =>
    list.map((x, i) =>
      normalizeRecipient(x, instances.provider(inst.provider).addressing, `participants.${i}`),
    );

  app.get(
    '/api/v1/instances/:id/groups',
    {
      schema: {
        tags,
        summary: 'Groups the account is in, with metadata and participants',
        description:
          'Fetched from WhatsApp once per session and then served from the cache, which WhatsApp’s group ' +
          'events keep current; `refresh=true` fetches again. 429 SB_ERR_RATE_LIMITED when WhatsApp answers ' +
          'rate-overlimit.',
        params: uuidParam,
        querystring: z.object({ refresh: z.enum(['true', 'false']).optional() }).strict(),
        response: { 200: z.object({ groups: z.array(groupView) }), ...errors },
      },
    },
    async (req) => {
      const inst = await groupsInstance(principal(req), req.params.id);
      const out = await supervisor.control(inst.id, 'list_groups', {
        refresh: req.query.refresh === 'true',
      });
      return { groups: out.groups as z.infer<typeof groupView>[] };
    },
  );

  app.get(
    '/api/v1/instances/:id/groups/:groupId',
    {
      schema: {
        tags,
        summary: 'One group with metadata and participants (cached)',
        params: groupParam,
        response: { 200: z.object({ group: groupView }), ...errors },
      },
    },
    async (req) => {
      const inst = await groupsInstance(principal(req), req.params.id);
      const out = await supervisor.control(inst.id, 'group_info', { group_id: req.params.groupId });
      return { group: out.group as z.infer<typeof groupView> };
    },
  );

  app.post(
    '/api/v1/instances/:id/groups',
    {
      schema: {
        tags,
        summary: 'Create a group (the account is its superadmin)',
        params: uuidParam,
        body: z.object({ subject: z.string().trim().min(1).max(100), participants: people }).strict(),
        response: { 201: z.object({ group: groupView }), ...errors },
      },
    },
    async (req, reply) => {
      const p = principal(req);
      requireScope(p, 'send');
      const inst = await groupsInstance(p, req.params.id);
      const out = await supervisor.control(inst.id, 'create_group', {
        subject: req.body.subject,
        participants: jids(inst, req.body.participants),
      });
      reply.status(201);
      // Providers without metadata (the simulator) answer just the id: show what was asked for.
      const group = (out.group as z.infer<typeof groupView> | undefined) ?? {
        id: String(out.group_id),
        subject: req.body.subject,
        description: null,
        owner: inst.account,
        owner_phone: null,
        created_at: new Date().toISOString(),
        size: req.body.participants.length + 1,
        announce: false,
        restrict: false,
        participants: [],
      };
      return { group };
    },
  );

  app.post(
    '/api/v1/instances/:id/groups/:groupId/participants',
    {
      schema: {
        tags,
        summary: 'Add, remove, promote or demote participants (the account must be an admin)',
        params: groupParam,
        body: z
          .object({ action: z.enum(['add', 'remove', 'promote', 'demote']), participants: people })
          .strict(),
        response: {
          200: z.object({
            results: z.array(
              z.object({
                id: z.string().nullable(),
                status: z.number().nullable().describe('WhatsApp’s per-participant status: 200 = done.'),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const p = principal(req);
      requireScope(p, 'send');
      const inst = await groupsInstance(p, req.params.id);
      const out = await supervisor.control(inst.id, 'group_participants', {
        group_id: req.params.groupId,
        action: req.body.action,
        participants: jids(inst, req.body.participants),
      });
      return { results: out.results as Array<{ id: string | null; status: number | null }> };
    },
  );
};
