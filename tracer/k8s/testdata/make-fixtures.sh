#!/usr/bin/env bash
# Rebuilds the fixture trees: the kubelet's /var/log/pods and /var/log/containers as
# containerd, CRI-O and docker (cri-dockerd) nodes lay them out. Container ids are the
# sha256 of a short name, so the tests can name them. Run from this directory.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf containerd crio docker
id() { printf '%s' "$1" | sha256sum | cut -c1-64; }
logline='2026-01-02T03:04:05.000000000Z stdout F started'

# podlog ROOT NS_POD_UID CONTAINER FILE...: regular log files (containerd, CRI-O).
podlog() {
  local root=$1 pod=$2 ctr=$3; shift 3
  mkdir -p "$root/var/log/pods/$pod/$ctr"
  for f in "$@"; do echo "$logline" >"$root/var/log/pods/$pod/$ctr/$f"; done
}
# ctrlink ROOT POD NS CONTAINER ID TARGET: the kubelet's /var/log/containers link.
ctrlink() {
  mkdir -p "$1/var/log/containers"
  ln -s "$6" "$1/var/log/containers/${2}_${3}_${4}-${5}.log"
}

# containerd: a two-container pod whose main container restarted once, a
# single-container pod without links, a static pod (32-hex UID), and entries that are
# not the kubelet's.
vllm=inference_vllm-llama-0_3f2a7c1e-8b4d-4e6f-9a1b-2c3d4e5f6a7b
podlog containerd $vllm vllm 0.log 1.log
podlog containerd $vllm model-fetch 0.log
ctrlink containerd vllm-llama-0 inference vllm "$(id cd-vllm-old)" /var/log/pods/$vllm/vllm/0.log
ctrlink containerd vllm-llama-0 inference vllm "$(id cd-vllm)" /var/log/pods/$vllm/vllm/1.log
ctrlink containerd vllm-llama-0 inference model-fetch "$(id cd-fetch)" /var/log/pods/$vllm/model-fetch/0.log
podlog containerd kube-system_nvidia-device-plugin-daemonset-x7k2p_9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f6a nvidia-device-plugin-ctr 0.log
etcd=kube-system_etcd-gpu-node-1_5c8f3e9a1b2d4c6e8f0a1b3c5d7e9f01
podlog containerd $etcd etcd 0.log
ctrlink containerd etcd-gpu-node-1 kube-system etcd "$(id cd-etcd)" /var/log/pods/$etcd/etcd/0.log
mkdir -p containerd/var/log/pods/not-a-pod-dir && echo junk >containerd/var/log/pods/not-a-pod-dir/0.log
echo junk >containerd/var/log/pods/inference_stray-file_3f2a7c1e-8b4d-4e6f-9a1b-000000000000
echo junk >containerd/var/log/containers/random.log
ln -s /nowhere "containerd/var/log/containers/bad_name-$(id cd-bad).log"

# CRI-O: a two-container pod, and a container whose pod directory is already gone (its
# link alone names it).
sglang=inference_sglang-7d9f8b6c5-abcde_7b1e4c2a-0d3f-4a5b-9c8d-6e7f8a9b0c1d
podlog crio $sglang sglang 0.log
podlog crio $sglang router 0.log
ctrlink crio sglang-7d9f8b6c5-abcde inference sglang "$(id crio-sglang)" /var/log/pods/$sglang/sglang/0.log
ctrlink crio sglang-7d9f8b6c5-abcde inference router "$(id crio-router)" /var/log/pods/$sglang/router/0.log
ctrlink crio solo-job-xyz batch worker "$(id crio-solo)" /var/log/pods/batch_solo-job-xyz_1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/worker/0.log

# docker through cri-dockerd: restart logs link to docker's json logs; no
# /var/log/containers directory (not mounted).
tgi=inference_tgi-0_0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b
mkdir -p docker/var/log/pods/$tgi/tgi docker/var/log/pods/$tgi/metrics-sidecar
t=$(id dk-tgi); s=$(id dk-sidecar)
ln -s /var/lib/docker/containers/$t/$t-json.log docker/var/log/pods/$tgi/tgi/0.log
ln -s /var/lib/docker/containers/$s/$s-json.log docker/var/log/pods/$tgi/metrics-sidecar/0.log
