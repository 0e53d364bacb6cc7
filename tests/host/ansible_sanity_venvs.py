"""Primes ansible-test's cache of sanity-test virtual environments with
environments over Debian's own packages, so that `ansible-test sanity` runs
with no download (it would otherwise pip-install its pinned linters into a
fresh venv per test, which needs the network).

Each environment goes exactly where ansible-test looks for it:
~/.ansible/test/venv/<label>/<python version>/<hash of its pip commands>,
with ansible-test's own functions computing the hash, and its marker file,
which ansible-test takes to mean "created and installed". The import test's
module environment has no site packages, as ansible-test makes it (a module
may import nothing but the standard library and Ansible); every other one
sees Debian's (yamllint, pylint, pycodestyle, voluptuous, jinja2, yaml).

Run with the Python ansible-test runs on (Debian's /usr/bin/python3), with
HOME set to where ansible-test will find the cache.
"""
import os
import pathlib
import subprocess
import sys

from ansible_test._internal.commands.sanity import hash_pip_commands
from ansible_test._internal.host_configs import NativePythonConfig
from ansible_test._internal.python_requirements import collect_requirements

# The tests ansible-test runs in an environment of their own (its
# create_sanity_virtualenv callers); "action-plugin-docs" stands for every
# test without requirements, which share one environment.
SHARED = ['action-plugin-docs', 'ansible-doc', 'changelog', 'import', 'integration-aliases',
          'pep8', 'pylint', 'runtime-metadata', 'validate-modules', 'yamllint']
MINIMAL = {'import.module': False, 'import.plugin': True}  # name: with site packages


def prime(python, name, minimize, site_packages):
    commands = collect_requirements(python=python, controller=True, virtualenv=False, command=None, ansible=False,
                                    cryptography=False, coverage=False, minimize=minimize, sanity=name)
    label = 'sanity.' + name if commands else 'sanity'
    path = pathlib.Path.home() / '.ansible/test/venv' / label / python.version / hash_pip_commands(commands)
    if (path / 'marker.txt').exists():
        return
    options = ['--without-pip'] + (['--system-site-packages'] if site_packages else [])
    subprocess.run([python.path, '-m', 'venv'] + options + [str(path)], check=True)
    (path / 'meta.install.json').write_text('[]\n')
    (path / 'meta.yaml.json').write_text('true\n')  # Debian's PyYAML has libyaml
    (path / 'marker.txt').touch()


def main():
    python = NativePythonConfig(version='%d.%d' % sys.version_info[:2], path=sys.executable)
    for name in SHARED:
        prime(python, name, False, True)
    for name, site_packages in MINIMAL.items():
        prime(python, name, True, site_packages)


if __name__ == '__main__':
    main()
