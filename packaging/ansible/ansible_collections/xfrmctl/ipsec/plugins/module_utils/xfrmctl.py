# -*- coding: utf-8 -*-
# Shared helpers of the xfrmctl.ipsec modules: running xfrmctl(8) and reading
# its --json output.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

# Options every module takes to find xfrmctl and its instance.
COMMON_ARGS = dict(
    config_dir=dict(type='path', default='/etc/xfrmctl/tunnels.d'),
    state_dir=dict(type='path'),
    socket=dict(type='path'),
    executable=dict(type='path'),
    no_probe=dict(type='bool', default=False),
)


def xfrmctl_command(module, config=None, no_probe=False):
    """The xfrmctl command line up to the subcommand: the binary, -c and the
    instance's paths (--state-dir, --socket only when given), --no-probe
    (the module's no_probe, or NO_PROBE), --json."""
    exe = module.params.get('executable') or module.get_bin_path('xfrmctl', required=True)
    cmd = [exe, '-c', config or module.params['config_dir']]
    if module.params.get('state_dir'):
        cmd += ['--state-dir', module.params['state_dir']]
    if module.params.get('socket'):
        cmd += ['--socket', module.params['socket']]
    if no_probe or module.params.get('no_probe'):
        cmd.append('--no-probe')
    cmd.append('--json')
    return cmd


def run_json(module, args, config=None, no_probe=False):
    """Runs xfrmctl ARGS with --json; returns (rc, document or None, stdout, stderr)."""
    cmd = xfrmctl_command(module, config, no_probe) + list(args)
    rc, out, err = module.run_command(cmd, environ_update={'LC_ALL': 'C.UTF-8'})
    doc = None
    if out.strip():
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
    return rc, doc, out, err


def error_text(doc, out, err):
    """xfrmctl's own message(s): the JSON document's error/errors, else its
    standard error. xfrmctl never prints keys, so this is safe to show."""
    parts = []
    if isinstance(doc, dict):
        if doc.get('error'):
            parts.append(str(doc['error']))
        for e in doc.get('errors') or []:
            if isinstance(e, dict):
                parts.append(e.get('message') or json.dumps(e, sort_keys=True))
            else:
                parts.append(str(e))
    if not parts:
        lines = [l for l in (err or '').splitlines() if l.strip()]
        if lines:
            # --json prints each error once more on stderr, prefixed "xfrmctl: ".
            seen = []
            for l in lines:
                l = l[len('xfrmctl: '):] if l.startswith('xfrmctl: ') else l
                if l not in seen:
                    seen.append(l)
            parts = seen
    if not parts and out:
        parts.append(out.strip())
    return '; '.join(parts) if parts else 'xfrmctl failed without a message'


def validate(module, config=None):
    """xfrmctl validate on CONFIG (default config_dir): None when it accepts,
    else (message, kernel). kernel is true when the definitions are valid on
    their own and only this host's kernel refuses them (what it lacks, or
    that it could not be asked): xfrmctl validate --no-probe accepts them.
    That is a property of the host, not of the definition; no_probe skips it."""
    rc, doc, out, err = run_json(module, ['validate'], config=config)
    if rc == 0:
        return None
    message = error_text(doc, out, err)
    if module.params.get('no_probe'):
        return message, False
    rc, doc, out, err = run_json(module, ['validate'], config=config, no_probe=True)
    if rc == 0:
        return message, True
    return error_text(doc, out, err), False
