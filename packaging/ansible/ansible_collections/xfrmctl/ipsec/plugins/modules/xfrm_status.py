#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: xfrm_status
short_description: Report the state of xfrmctl's IPsec tunnels
description:
  - Runs C(xfrmctl --json status) and returns, for each defined tunnel (or
    the named ones), its state (C(up), C(degraded) or C(down)), the reason
    when it is not up, its SAs, SPIs and counters, as xfrmctl(8) reports
    them. Through xfrmd(8) (when it runs) the states are the daemon's health
    verdicts.
  - Read-only; never changes anything (C(changed) is always false). A tunnel
    that is not up is not a failure of the task (xfrmctl's exit status 3);
    test C(all_up) or C(tunnels) in the play, for example with
    C(ansible.builtin.assert).
  - The result is also set as the fact C(xfrmctl_tunnels).
version_added: 1.0.0
# Ansible's form is "Name (@GitHub handle)"; the project has no handle yet,
# and "(!UNKNOWN)" is the form validate-modules takes for an author without one.
author:
  - xfrmctl developers (!UNKNOWN)
requirements:
  - xfrmctl on the managed host; the module runs as root.
options:
  names:
    description:
      - Only these tunnels; all defined tunnels by default.
    type: list
    elements: str
    default: []
  config_dir:
    description:
      - The definitions directory (or file), passed to xfrmctl as C(-c).
    type: path
    default: /etc/xfrmctl/tunnels.d
  state_dir:
    description: xfrmctl's C(--state-dir), when not its default.
    type: path
  socket:
    description: xfrmctl's C(--socket) (the control socket of xfrmd(8)), when not its default.
    type: path
  executable:
    description: Path of the xfrmctl binary; by default C(xfrmctl) is looked up in the PATH.
    type: path
  no_probe:
    description:
      - Do not ask this host's kernel what it supports (xfrmctl's
        C(--no-probe)). Without it, status fails on a host whose kernel
        cannot carry the definitions (a build host); with it, their tunnels
        are reported, as C(down).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
notes:
  - Key files are not read.
seealso:
  - module: xfrmctl.ipsec.xfrm_tunnel
  - name: xfrmctl(8)
    description: The command, its status output and exit statuses (man/xfrmctl.8 in the source tree).
    link: man:xfrmctl(8)
'''

EXAMPLES = r'''
- name: Tunnel states
  xfrmctl.ipsec.xfrm_status:
  register: ipsec

- name: Every tunnel is up
  ansible.builtin.assert:
    that: ipsec.all_up
    fail_msg: "not up: {{ ipsec.not_up | join(', ') }}"

- name: One tunnel's outbound packets
  ansible.builtin.debug:
    msg: "{{ ipsec.tunnels['branch-a'].packets_out }}"

- name: Through the fact, on another instance's paths
  xfrmctl.ipsec.xfrm_status:
    config_dir: /srv/xfrmctl/tunnels.d
    state_dir: /srv/xfrmctl/state
    socket: /srv/xfrmctl/xfrmd.sock
    names: [branch-a]
- ansible.builtin.debug:
    var: xfrmctl_tunnels['branch-a'].state
'''

RETURN = r'''
tunnels:
  description:
    - Each tunnel by name, as in C(xfrmctl --json status); among its fields
      C(state), C(reason), C(mode), C(protocol), C(local), C(remote),
      C(keying), C(generation), C(bytes_in), C(bytes_out), C(packets_in),
      C(packets_out), C(replay_errors), C(integrity_errors),
      C(last_in_seconds), C(policies) (present/wanted), C(sas) (each SA's
      direction, protocol, SPI, counters, presence), C(ike) for ikev2 tunnels.
  returned: always
  type: dict
  sample:
    branch-a:
      name: branch-a
      state: up
      reason: ""
      local: 192.0.2.1
      remote: 198.51.100.7
      packets_in: 5
      packets_out: 5
      sas: [{direction: out, spi: "0x10000a01", protocol: esp, present: true, bytes: 420, packets: 5}]
states:
  description: Each tunnel's state by name.
  returned: always
  type: dict
  sample: {branch-a: up, branch-b: down}
all_up:
  description: Whether every tunnel reported is up.
  returned: always
  type: bool
not_up:
  description: The names of the tunnels that are not up.
  returned: always
  type: list
  elements: str
xfrm_stat:
  description: The host's XFRM error counters (/proc/net/xfrm_stat).
  returned: when xfrmctl reports them
  type: dict
ansible_facts:
  description: The same tunnels as the fact C(xfrmctl_tunnels).
  returned: always
  type: dict
  contains:
    xfrmctl_tunnels:
      description: Each tunnel by name, as C(tunnels).
      type: dict
      returned: always
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.xfrmctl.ipsec.plugins.module_utils.xfrmctl import (
    COMMON_ARGS, run_json, error_text)


def main():
    argument_spec = dict(names=dict(type='list', elements='str', default=[]))
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    rc, doc, out, err = run_json(module, ['status'] + list(module.params['names']))
    # 0: every tunnel up; 3: some tunnel not up -- both are answers.
    if rc not in (0, 3) or not isinstance(doc, dict) or doc.get('error'):
        module.fail_json(msg='xfrmctl status failed: %s' % error_text(doc, out, err), rc=rc)
    tunnels = {}
    for t in doc.get('tunnels') or []:
        tunnels[t.get('name')] = t
    states = dict((n, t.get('state')) for n, t in tunnels.items())
    not_up = sorted(n for n, s in states.items() if s != 'up')
    result = dict(changed=False, tunnels=tunnels, states=states, all_up=not not_up, not_up=not_up,
                  ansible_facts=dict(xfrmctl_tunnels=tunnels))
    if 'xfrm_stat' in doc:
        result['xfrm_stat'] = doc['xfrm_stat']
    module.exit_json(**result)


if __name__ == '__main__':
    main()
