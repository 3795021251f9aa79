# SPDX-License-Identifier: ISC
dist_man_MANS += man/starlingd.8
dist_man_MANS += man/starling.yml.5
dist_man_MANS += man/starlingctl.8
