#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: xfrm_tunnel
short_description: Manage one IPsec tunnel with xfrmctl
description:
  - >-
    Manages one tunnel definition of xfrmctl(8), as a file
    C(<config_dir>/<name>.json) holding
    C({"version": 1, "tunnels": {<name>: <definition>}}),
    and its manual key files, then runs C(xfrmctl apply) so that the kernel's
    XFRM policies and SAs match the definitions.
  - The new definition is checked with C(xfrmctl validate) (key files
    included) B(before) anything is replaced; an invalid definition fails the
    task with xfrmctl's own message (file, JSON path, what is wrong) and
    nothing on the host changes. After the files are written the whole
    I(config_dir) is validated once more (a tunnel name or SPI clashing with
    another file); if that fails, the previous files are put back.
  - C(apply) makes the kernel match B(every) definition in I(config_dir),
    as C(xfrmctl apply) does; C(changed) is true only when the definition
    file or a key file changed, or the apply changed the kernel.
  - When xfrmd(8) runs, xfrmctl hands the apply to it (see xfrmctl(8)), so
    I(config_dir) must then be the daemon's definitions.
  - Key material is never logged, returned, or shown in a diff; key files
    appear only as their paths. xfrmctl itself never prints keys.
version_added: 1.0.0
# Ansible's form is "Name (@GitHub handle)"; the project has no handle yet,
# and "(!UNKNOWN)" is the form validate-modules takes for an author without one.
author:
  - xfrmctl developers (!UNKNOWN)
requirements:
  - xfrmctl on the managed host (see I(executable)); the module runs as root.
options:
  name:
    description:
      - The tunnel's name, 1 to 48 of C(a-z 0-9 . _ -), starting with a letter
        or a digit. It names the definition file C(<config_dir>/<name>.json).
    type: str
    required: true
  state:
    description:
      - C(present) writes the definition (and keys) and applies it.
      - C(absent) removes the definition file and the tunnel's keys directory
        (I(keys_dir)), then applies, so that the tunnel's SAs and policies are
        removed from the kernel.
    type: str
    choices: [present, absent]
    default: present
  definition:
    description:
      - The tunnel object, exactly as under C(tunnels.<name>) in
        xfrmctl.json(5), for example C(mode), C(protocol), C(proposal),
        C(local), C(remote), C(keying), C(lifetime), C(encapsulation),
        C(interface).
      - A C(key_file) whose value is the name of an entry in I(keys) is
        replaced by the path of the file the module writes for that entry,
        C(<keys_dir>/<key name>). Any other C(key_file) is kept as given
        (an absolute path, or one relative to I(config_dir)); such files are
        yours to provision, with mode 0600.
      - Required when C(state=present).
    type: dict
  keys:
    description:
      - Key material to write, as a dict of key file name (C(A-Z a-z 0-9 . _ -),
        not starting with a dot) to the key in hex (whitespace and a leading
        C(0x) are ignored). Each becomes C(<keys_dir>/<key name>), mode 0600,
        in a directory of mode 0700, and is referred to from I(definition) by
        its name in a C(key_file).
      - The key lengths must suit the proposal (for example 36 bytes, 72 hex
        digits, for C(aes256gcm16)); xfrmctl validate says when they do not.
      - When given, I(keys_dir) belongs to this tunnel; files in it that are
        not named here are removed.
      - Never logged or returned (C(no_log)). With manual AEAD keys (AES-GCM,
        ChaCha20-Poly1305) xfrmctl refuses to install a key twice; roll a
        key by giving a new key and a new SPI, on both ends.
      - For manual keying only; an IKEv2 C(psk_file) holds raw bytes, not
        hex; give its path in I(definition).
    type: dict
  keys_dir:
    description:
      - Where I(keys) are written.
      - Defaults to C(<parent of config_dir>/keys/<name>), for example
        C(/etc/xfrmctl/keys/<name>) with the default I(config_dir).
    type: path
  config_dir:
    description:
      - The definitions directory, passed to xfrmctl as C(-c).
      - Created (mode 0755) when missing.
    type: path
    default: /etc/xfrmctl/tunnels.d
  state_dir:
    description:
      - xfrmctl's C(--state-dir); xfrmctl's default (C(/var/lib/xfrmctl)) when
        not given.
    type: path
  socket:
    description:
      - xfrmctl's C(--socket), the control socket of xfrmd(8); xfrmctl's
        default (C(/run/xfrmctl/xfrmd.sock)) when not given.
    type: path
  apply:
    description:
      - Run C(xfrmctl apply) after writing the files (and, in check mode,
        C(xfrmctl plan) to tell whether the kernel would change).
      - With C(false) only the files are managed (validated all the same);
        the kernel is not touched. With I(no_probe) too, the definitions may
        be meant for a kernel other than this host's.
    type: bool
    default: true
  executable:
    description:
      - Path of the xfrmctl binary; by default C(xfrmctl) is looked up in the
        PATH.
    type: path
  no_probe:
    description:
      - Do not ask this host's kernel what it supports (xfrmctl's
        C(--no-probe), on every xfrmctl command the task runs), for
        definitions meant for another kernel, for example written on a build
        host or into an image with I(apply=false).
      - Without it, a definition that is valid but needs what this host's
        kernel lacks (an algorithm, ESP itself, XFRM interfaces) is refused,
        and the message says it is this host's kernel, not the definition.
        With it, validation checks the definitions and key files alone; an
        apply then sends them to the kernel as they are, and the kernel's own
        refusals are reported tunnel by tunnel.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - Nothing is written. The new definition is validated as in a real
        run. When the files would not change, C(xfrmctl plan) tells whether
        the kernel would; when they would change, the task reports a change
        without running plan.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - The definition file before and after, and the list of key files
        (paths only, never their contents).
notes:
  - Both ends of a manual tunnel need matching definitions (one end's
    outbound SPI and key is the other's inbound); run the module for each
    host with its own view of the tunnel.
  - Each task applies all definitions in I(config_dir), so a task may also
    install or remove other tunnels' entries that were pending.
seealso:
  - module: xfrmctl.ipsec.xfrm_status
  - name: xfrmctl.json(5)
    description: The definition format (man/xfrmctl.json.5 in the source tree).
    link: man:xfrmctl.json(5)
  - name: xfrmctl(8)
    description: The command (man/xfrmctl.8 in the source tree).
    link: man:xfrmctl(8)
'''

EXAMPLES = r'''
- name: Site-to-site ESP tunnel, keys from the vault
  xfrmctl.ipsec.xfrm_tunnel:
    name: branch-a
    definition:
      mode: tunnel
      protocol: esp
      proposal: aes256gcm16
      local: {address: 192.0.2.1, subnets: [10.1.0.0/24]}
      remote: {address: 198.51.100.7, subnets: [10.2.0.0/24]}
      keying:
        method: manual
        outbound: {spi: "0x10000a01", key_file: out}
        inbound: {spi: "0x10000a02", key_file: in}
    keys:
      out: "{{ vault_branch_a_west_to_east }}"
      in: "{{ vault_branch_a_east_to_west }}"

- name: The same tunnel with key files provisioned by something else
  xfrmctl.ipsec.xfrm_tunnel:
    name: branch-a
    definition:
      proposal: aes256gcm16
      local: {address: 192.0.2.1, subnets: [10.1.0.0/24]}
      remote: {address: 198.51.100.7, subnets: [10.2.0.0/24]}
      keying:
        method: manual
        outbound: {spi: "0x10000a01", key_file: /etc/xfrmctl/keys/branch-a.out}
        inbound: {spi: "0x10000a02", key_file: /etc/xfrmctl/keys/branch-a.in}

- name: An IKEv2 tunnel (no manual keys)
  xfrmctl.ipsec.xfrm_tunnel:
    name: hq
    definition:
      local: {address: 192.0.2.1, subnets: [10.1.0.0/24]}
      remote: {address: 203.0.113.9, subnets: [10.9.0.0/16]}
      keying:
        method: ikev2
        psk_file: /etc/xfrmctl/keys/hq.psk

- name: Take a tunnel away (definition, keys and kernel entries)
  xfrmctl.ipsec.xfrm_tunnel:
    name: branch-a
    state: absent

- name: Only write the files; the daemon picks them up on reload
  xfrmctl.ipsec.xfrm_tunnel:
    name: branch-b
    definition: "{{ branch_b }}"
    keys: "{{ branch_b_keys }}"
    apply: false
  notify: reload xfrmd

- name: Into an image, on a build host whose kernel has no ESP
  xfrmctl.ipsec.xfrm_tunnel:
    name: branch-b
    definition: "{{ branch_b }}"
    keys: "{{ branch_b_keys }}"
    config_dir: /srv/image/etc/xfrmctl/tunnels.d
    apply: false
    no_probe: true
'''

RETURN = r'''
path:
  description: The definition file.
  returned: always
  type: str
  sample: /etc/xfrmctl/tunnels.d/branch-a.json
keys_dir:
  description: The directory of the tunnel's key files.
  returned: always
  type: str
  sample: /etc/xfrmctl/keys/branch-a
key_files:
  description: The key files the module manages (paths only).
  returned: always
  type: list
  elements: str
  sample: [/etc/xfrmctl/keys/branch-a/in, /etc/xfrmctl/keys/branch-a/out]
definition:
  description: The tunnel's definition as written, key names replaced by key file paths.
  returned: when C(state=present)
  type: dict
files_changed:
  description: Whether the definition file or a key file was (or, in check mode, would be) changed.
  returned: always
  type: bool
kernel_changed:
  description: Whether xfrmctl apply changed (or plan would change) the kernel.
  returned: always
  type: bool
changes:
  description:
    - The kernel changes xfrmctl apply made (or, in check mode, plan
      found), as in C(xfrmctl --json apply); keys are never part of them.
  returned: always
  type: list
  elements: dict
  sample:
    - action: add
      object: sa
      tunnel: branch-a
      spi: "0x10000a01"
      entry: sa 192.0.2.1 -> 198.51.100.7 esp spi 0x10000a01 tunnel reqid 1950806853 rfc4106(gcm(aes)) key-bits 288 icv-bits 128 flag af-unspec
      reason: not in the kernel
tunnels:
  description: Each tunnel's result of the apply (name, result, warnings), as xfrmctl reports it.
  returned: when apply ran
  type: list
  elements: dict
  sample: [{name: branch-a, result: changed, warnings: []}]
'''

import copy
import json
import os
import re
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.xfrmctl.ipsec.plugins.module_utils.xfrmctl import (
    COMMON_ARGS, run_json, error_text, validate)

NAME_RE = re.compile(r'^[a-z0-9][a-z0-9._-]{0,47}$')
KEY_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')
HEX_RE = re.compile(r'^[0-9a-fA-F]+$')
# Fields of a definition that name files (relative to the definition file).
PATH_FIELDS = ('key_file', 'psk_file', 'certificate', 'private_key', 'ca')


def read_bytes(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except (IOError, OSError):
        return None


def write_atomic(path, data, mode):
    """Writes DATA to PATH through a dot-file in the same directory (which
    xfrmctl skips) and a rename, the file's mode set before any byte."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, '.%s.ansible-tmp' % base)
    try:
        os.unlink(tmp)
    except OSError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def normalize_key(module, kname, value):
    """The key as the file will hold it: lower-case hex and a newline. The
    error never contains the value."""
    if value is None:
        module.fail_json(msg='keys.%s: no key given' % kname)
    text = re.sub(r'\s+', '', str(value))
    if text[:2] in ('0x', '0X'):
        text = text[2:]
    if not text or not HEX_RE.match(text):
        module.fail_json(msg='keys.%s: not a key in hex (only 0-9 and a-f, optionally after 0x)' % kname)
    if len(text) % 2:
        module.fail_json(msg='keys.%s: an odd number of hex digits (%d)' % (kname, len(text)))
    return (text.lower() + '\n').encode('ascii')


def rewrite_key_files(node, mapping, relative_base=None, used=None):
    """A copy of the definition with each key_file that names a key replaced
    by its path in MAPPING; other relative key_file paths made absolute
    against RELATIVE_BASE when given."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in PATH_FIELDS and isinstance(v, str):
                if k == 'key_file' and v in mapping:
                    if used is not None:
                        used.add(v)
                    out[k] = mapping[v]
                elif relative_base and not os.path.isabs(v):
                    out[k] = os.path.join(relative_base, v)
                else:
                    out[k] = v
            else:
                out[k] = rewrite_key_files(v, mapping, relative_base, used)
        return out
    if isinstance(node, list):
        return [rewrite_key_files(v, mapping, relative_base, used) for v in node]
    return node


def render(name, definition):
    doc = {'version': 1, 'tunnels': {name: definition}}
    return (json.dumps(doc, indent=2, sort_keys=True) + '\n').encode('utf-8')


def key_state(path, data):
    """'same', 'mode' (content right, mode wrong) or 'new'/'changed'."""
    try:
        st = os.lstat(path)
    except OSError:
        return 'new'
    if not stat.S_ISREG(st.st_mode):
        return 'changed'
    if read_bytes(path) != data:
        return 'changed'
    if stat.S_IMODE(st.st_mode) != 0o600:
        return 'mode'
    return 'same'


def existing_key_files(keys_dir):
    try:
        return sorted(os.path.join(keys_dir, f) for f in os.listdir(keys_dir)
                      if not f.startswith('.'))
    except OSError:
        return []


def refusal_message(message, kernel, what, outcome):
    """A refusal of xfrmctl validate: of WHAT itself, or (kernel) of this
    host's kernel, which cannot carry WHAT although it is valid."""
    if kernel:
        return ('this host\'s kernel cannot carry %s, which is valid (%s): %s; no_probe=true writes '
                'definitions meant for another kernel without asking this one' % (what, outcome, message))
    return 'xfrmctl validate refused %s (%s): %s' % (what, outcome, message)


class Tunnel(object):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.name = p['name']
        self.config_dir = p['config_dir'].rstrip('/') or '/'
        self.path = os.path.join(self.config_dir, self.name + '.json')
        self.keys_dir = p['keys_dir'] or os.path.join(
            os.path.dirname(self.config_dir), 'keys', self.name)
        self.result = dict(changed=False, path=self.path, keys_dir=self.keys_dir, key_files=[],
                           files_changed=False, kernel_changed=False, changes=[])
        self.staging = None
        self.backups = []  # (path, bytes or None) to put back on a failed whole-directory validate

    def fail(self, msg, **kw):
        self.cleanup()
        res = dict(self.result)
        res.update(kw)
        self.module.fail_json(msg=msg, **res)

    def cleanup(self):
        if self.staging:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def unstage(self, text):
        """Staging paths in xfrmctl's messages shown as the real ones."""
        if self.staging:
            text = text.replace(os.path.join(self.staging, 'keys'), self.keys_dir)
            text = text.replace(os.path.join(self.staging, self.name + '.json'), self.path)
        return text

    # ---- present ----
    def present(self):
        p = self.module.params
        if p['definition'] is None:
            self.fail('definition is required when state is present')
        keys = {}
        for kname, value in (p['keys'] or {}).items():
            if not KEY_NAME_RE.match(kname):
                self.fail('keys: "%s" is not a key file name (A-Z a-z 0-9 . _ -, not starting with a dot)' % kname)
            keys[kname] = normalize_key(self.module, kname, value)
        final_paths = dict((k, os.path.join(self.keys_dir, k)) for k in keys)
        used = set()
        definition = rewrite_key_files(copy.deepcopy(p['definition']), final_paths, used=used)
        for k in sorted(set(keys) - used):
            self.module.warn('keys.%s is not named by any key_file of the definition' % k)
        text = render(self.name, definition)
        self.result['definition'] = definition
        self.result['key_files'] = sorted(final_paths.values())

        # Validate the new definition in a private staging directory first.
        self.staging = tempfile.mkdtemp(prefix='xfrm_tunnel.')
        os.chmod(self.staging, 0o700)
        os.mkdir(os.path.join(self.staging, 'keys'), 0o700)
        staged_paths = {}
        for k, data in keys.items():
            staged_paths[k] = os.path.join(self.staging, 'keys', k)
            write_atomic(staged_paths[k], data, 0o600)
        staged_def = rewrite_key_files(copy.deepcopy(p['definition']), staged_paths,
                                       relative_base=self.config_dir)
        staged_file = os.path.join(self.staging, self.name + '.json')
        write_atomic(staged_file, render(self.name, staged_def), 0o600)
        refusal = validate(self.module, config=staged_file)
        if refusal:
            self.fail(refusal_message(self.unstage(refusal[0]), refusal[1], 'the definition',
                                      'nothing was changed'))
        self.cleanup()

        # What would change.
        old_text = read_bytes(self.path)
        def_changed = old_text != text
        key_changes = dict((k, key_state(final_paths[k], data)) for k, data in keys.items())
        stale = []
        if p['keys'] is not None:
            stale = [f for f in existing_key_files(self.keys_dir) if f not in final_paths.values()]
        keys_changed = bool(stale) or any(s != 'same' for s in key_changes.values())
        files_changed = def_changed or keys_changed
        self.result['files_changed'] = files_changed

        if self.module._diff:
            self.result['diff'] = self.diff(old_text, text, final_paths, key_changes, stale)

        if self.module.check_mode:
            if not files_changed and p['apply']:
                self.plan()
            self.result['changed'] = files_changed or self.result['kernel_changed']
            return

        if files_changed:
            self.write_files(text, old_text, def_changed, keys, final_paths, key_changes, stale)
            # The whole directory: clashes with other files (a name or SPI twice).
            refusal = validate(self.module)
            if refusal:
                self.rollback()
                self.fail(refusal_message(refusal[0], refusal[1], '%s together with the other definitions'
                                          % self.config_dir, 'the previous files were put back'),
                          changed=False, files_changed=False)
        self.result['changed'] = files_changed
        if p['apply']:
            self.apply()

    def write_files(self, text, old_text, def_changed, keys, final_paths, key_changes, stale):
        if not os.path.isdir(self.config_dir):
            os.makedirs(self.config_dir, 0o755)
        if keys or stale:
            if not os.path.isdir(self.keys_dir):
                os.makedirs(self.keys_dir, 0o700)
            os.chmod(self.keys_dir, 0o700)
        for k, data in keys.items():
            path = final_paths[k]
            if key_changes[k] == 'same':
                continue
            self.backups.append((path, read_bytes(path)))
            if key_changes[k] == 'mode':
                os.chmod(path, 0o600)
            else:
                write_atomic(path, data, 0o600)
        for f in stale:
            self.backups.append((f, read_bytes(f)))
            os.unlink(f)
        if def_changed:
            self.backups.append((self.path, old_text))
            write_atomic(self.path, text, 0o644)

    def rollback(self):
        for path, data in reversed(self.backups):
            try:
                if data is None:
                    os.unlink(path)
                else:
                    write_atomic(path, data, 0o644 if path == self.path else 0o600)
            except OSError:
                pass
        self.backups = []

    def diff(self, old_text, text, final_paths, key_changes, stale):
        d = [dict(before_header=self.path, after_header=self.path,
                  before=(old_text or b'').decode('utf-8', 'replace'),
                  after=text.decode('utf-8', 'replace'))]
        before_keys = existing_key_files(self.keys_dir) if os.path.isdir(self.keys_dir) else []
        after_keys = []
        for k in sorted(final_paths):
            mark = {'same': '', 'mode': ' (mode set to 0600)', 'new': ' (new)',
                    'changed': ' (new key)'}[key_changes[k]]
            after_keys.append(final_paths[k] + mark)
        if self.module.params['keys'] is None:
            after_keys = before_keys
        if before_keys != after_keys:
            d.append(dict(before_header=self.keys_dir + ' (key files, contents never shown)',
                          after_header=self.keys_dir + ' (key files, contents never shown)',
                          before=''.join(f + '\n' for f in before_keys),
                          after=''.join(f + '\n' for f in after_keys)))
        return d

    # ---- absent ----
    def absent(self):
        old_text = read_bytes(self.path)
        key_files = existing_key_files(self.keys_dir)
        has_keys_dir = os.path.isdir(self.keys_dir)
        files_changed = old_text is not None or has_keys_dir
        self.result['files_changed'] = files_changed
        self.result['key_files'] = []
        if self.module._diff:
            d = [dict(before_header=self.path, after_header=self.path,
                      before=(old_text or b'').decode('utf-8', 'replace'), after='')]
            if key_files:
                d.append(dict(before_header=self.keys_dir + ' (key files, contents never shown)',
                              after_header=self.keys_dir + ' (key files, contents never shown)',
                              before=''.join(f + '\n' for f in key_files), after=''))
            self.result['diff'] = d
        if self.module.check_mode:
            if not files_changed and self.module.params['apply']:
                self.plan()
            self.result['changed'] = files_changed or self.result['kernel_changed']
            return
        if old_text is not None:
            os.unlink(self.path)
        if has_keys_dir:
            shutil.rmtree(self.keys_dir)
        self.result['changed'] = files_changed
        if self.module.params['apply']:
            self.apply()

    # ---- kernel ----
    def plan(self):
        if not os.path.isdir(self.config_dir):
            return
        rc, doc, out, err = run_json(self.module, ['plan'])
        if rc not in (0, 2) or not isinstance(doc, dict):
            self.fail('xfrmctl plan failed: %s' % error_text(doc, out, err))
        self.result['changes'] = doc.get('changes') or []
        self.result['kernel_changed'] = rc == 2 or bool(doc.get('changed'))

    def apply(self):
        if not os.path.isdir(self.config_dir):
            os.makedirs(self.config_dir, 0o755)
        rc, doc, out, err = run_json(self.module, ['apply'])
        if isinstance(doc, dict):
            self.result['changes'] = doc.get('changes') or []
            self.result['tunnels'] = doc.get('tunnels') or []
            self.result['kernel_changed'] = bool(doc.get('changed'))
            for w in doc.get('warnings') or []:
                self.module.warn('xfrmctl: %s' % (w if isinstance(w, str) else json.dumps(w, sort_keys=True)))
            for t in doc.get('tunnels') or []:
                for w in t.get('warnings') or []:
                    self.module.warn('xfrmctl: %s: %s' % (t.get('name'), w))
        self.result['changed'] = self.result['changed'] or self.result['kernel_changed']
        if rc != 0:
            self.fail('xfrmctl apply failed: %s' % error_text(doc, out, err), changed=self.result['changed'])


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        definition=dict(type='dict'),
        keys=dict(type='dict', no_log=True),
        keys_dir=dict(type='path'),
        apply=dict(type='bool', default=True),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[('state', 'present', ['definition'])])
    if not NAME_RE.match(module.params['name']):
        module.fail_json(msg='name: "%s" is not a tunnel name (1 to 48 of a-z 0-9 . _ -, '
                         'starting with a letter or a digit)' % module.params['name'])
    t = Tunnel(module)
    try:
        if module.params['state'] == 'present':
            t.present()
        else:
            t.absent()
    except (IOError, OSError) as e:
        # Only the path and the system's reason: never file contents.
        t.fail('%s: %s' % (getattr(e, 'filename', None) or 'xfrm_tunnel', e.strerror or str(e)))
    finally:
        t.cleanup()
    module.exit_json(**t.result)


if __name__ == '__main__':
    main()
