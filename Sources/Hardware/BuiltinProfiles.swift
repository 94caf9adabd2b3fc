/// The built-in hardware profiles: one JSON document per device, in the order
/// `autotune hardware list` shows them.
///
/// They are decoded by the same `HardwareProfile` decoder a user's file goes through, so the
/// library is checked by the code path users rely on. Every figure is dense: a figure a vendor
/// quotes only with 2:4 structured sparsity is halved, and the sources say so. A figure that no
/// datasheet gives (idle power, latencies, launch overhead, efficiency) is a stated estimate.
///
/// Devices one rents have a price per device-hour: a public on-demand list price of a cloud
/// instance divided by the devices it holds (so the host's CPUs, memory and network are in it),
/// with the instance, region and date in `price_source`. The L4 and T4 are priced by their
/// one-GPU instances; the multi-GPU sizes cost more per GPU, their hosts being larger. Devices
/// one buys (the RTX 4090, the Jetsons, the Raspberry Pi) have no price, nor has the H200, whose
/// on-demand price is not given here.
enum BuiltinProfiles {
    static let documents: [String] = [
        v100SXM2, a100SXM40, a100SXM80, h100SXM, h200, l4, t4, rtx4090, tpuV4, tpuV5e,
        jetsonOrinNano, jetsonAGXOrin, raspberryPi5,
    ]

    // MARK: NVIDIA data-centre GPUs

    static let v100SXM2 = """
    {"name": "V100-SXM2-32GB", "kind": "gpu",
     "sources": [
       "NVIDIA Tesla V100 GPU datasheet (2018): SXM2 FP32 15.7 TFLOP/s, tensor cores 125 TFLOP/s (FP16 multiply, FP32 accumulate), 32 GB HBM2 at 900 GB/s, NVLink 300 GB/s, 300 W",
       "NVIDIA Tesla V100 GPU architecture whitepaper (2017): no BF16 or TF32 units; int8 runs as DP4A on the CUDA cores at 4× the FP32 rate: 4 × 15.7 = 62.8 TOPS",
       "NVLink 2: 6 links × 25 GB/s = 150 GB/s per direction (the datasheet's 300 GB/s counts both directions); DGX-1 wires its 8 GPUs as a hybrid cube-mesh, not all-to-all",
       "NVIDIA DGX-1 with Tesla V100 system architecture whitepaper (2017): 4 × 100 Gb/s EDR InfiniBand per 8 GPUs = 400 Gb/s / 8 = 6.25 GB/s per GPU; 512 GB host memory; PCIe 3.0 x16 to the host, 16 GB/s per direction",
       "Estimates, not datasheet figures: idle power (a typical nvidia-smi reading), link latencies (NCCL small-message latency), 5 µs kernel launch; efficiency: the defaults for GPUs"],
     "peak_tflops": {"fp32": 15.7, "fp16": 125, "int8": 62.8},
     "memory_gib": 32, "memory_bandwidth_gbs": 900,
     "efficiency": {"matmul": 0.7, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 40, "peak": 300},
     "interconnect": {"devices_per_node": 8,
                      "intra_node": {"kind": "nvlink2", "bandwidth_gbs": 150, "latency_us": 3},
                      "inter_node": {"kind": "edr-infiniband", "bandwidth_gbs": 6.25, "latency_us": 5},
                      "host_link": {"kind": "pcie3", "bandwidth_gbs": 16, "latency_us": 2},
                      "host_memory_gib": 512},
     "price_per_hour_usd": 3.9015,
     "price_source": "AWS p3dn.24xlarge on-demand list price, us-east-1, 2024: $31.212/h ÷ 8 V100-SXM2-32GB"}
    """

    static let a100SXM40 = """
    {"name": "A100-SXM-40GB", "kind": "gpu",
     "sources": [
       "NVIDIA A100 Tensor Core GPU datasheet (2021): FP32 19.5, TF32 156, FP16 312, BF16 312 TFLOP/s, int8 624, int4 1248 TOPS dense (twice that with sparsity), 40 GB HBM2 at 1555 GB/s, 400 W",
       "NVLink 3: 12 links × 25 GB/s = 300 GB/s per direction (600 GB/s both ways); PCIe 4.0 x16, 32 GB/s per direction",
       "NVIDIA DGX A100 system architecture whitepaper (2020): 8 GPUs per node through NVSwitch, 8 × 200 Gb/s HDR InfiniBand = 25 GB/s per GPU, 1 TB host memory",
       "FlashAttention-2 (Dao 2023) runs on Ampere, Ada and Hopper GPUs, and PyTorch's scaled_dot_product_attention and Megatron-LM with Transformer Engine pick it there by default: flash_attention true",
       "Estimates, not datasheet figures: idle power, link latencies, 5 µs kernel launch; vector, memory and network efficiency: the defaults for GPUs",
       "Matmul efficiency fitted by least squares to Narayanan et al. 2021, Table 1 (ten GPT runs on DGX A100-80GB nodes, bias adds fused as Megatron-LM runs them; autotune bench costmodel): plateau 0.8121, half intensity 203.3 FLOP/B, so attention's per-head products (about 114 FLOP/B at head size 128 and sequence 2048) run at 0.29 of the peak and large projections near the plateau"],
     "peak_tflops": {"fp32": 19.5, "tf32": 156, "fp16": 312, "bf16": 312, "int8": 624, "int4": 1248},
     "memory_gib": 40, "memory_bandwidth_gbs": 1555,
     "efficiency": {"matmul": 0.8121, "matmul_half_intensity": 203.3, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 55, "peak": 400},
     "flash_attention": true,
     "interconnect": {"devices_per_node": 8,
                      "intra_node": {"kind": "nvlink3", "bandwidth_gbs": 300, "latency_us": 3},
                      "inter_node": {"kind": "hdr-infiniband", "bandwidth_gbs": 25, "latency_us": 5},
                      "host_link": {"kind": "pcie4", "bandwidth_gbs": 32, "latency_us": 2},
                      "host_memory_gib": 1024},
     "price_per_hour_usd": 4.0966,
     "price_source": "AWS p4d.24xlarge on-demand list price, us-east-1, 2024: $32.7726/h ÷ 8 A100-SXM4-40GB"}
    """

    static let a100SXM80 = """
    {"name": "A100-SXM-80GB", "kind": "gpu",
     "sources": [
       "NVIDIA A100 Tensor Core GPU datasheet (2021): compute as the 40 GB part (FP32 19.5, TF32 156, FP16/BF16 312 TFLOP/s, int8 624, int4 1248 TOPS dense), 80 GB HBM2e at 2039 GB/s, 400 W",
       "NVLink 3: 300 GB/s per direction; PCIe 4.0 x16, 32 GB/s per direction",
       "NVIDIA DGX A100 system architecture whitepaper (2020): 8 GPUs per node, 8 × 200 Gb/s HDR InfiniBand = 25 GB/s per GPU; DGX A100 640GB has 2 TB host memory",
       "FlashAttention-2 (Dao 2023) runs on Ampere, Ada and Hopper GPUs, and PyTorch's scaled_dot_product_attention and Megatron-LM with Transformer Engine pick it there by default: flash_attention true",
       "Estimates, not datasheet figures: idle power, link latencies, 5 µs kernel launch; vector, memory and network efficiency: the defaults for GPUs",
       "Matmul efficiency fitted by least squares to Narayanan et al. 2021, Table 1 (ten GPT runs on DGX A100-80GB nodes, bias adds fused as Megatron-LM runs them; autotune bench costmodel): plateau 0.8121, half intensity 203.3 FLOP/B, so attention's per-head products (about 114 FLOP/B at head size 128 and sequence 2048) run at 0.29 of the peak and large projections near the plateau"],
     "peak_tflops": {"fp32": 19.5, "tf32": 156, "fp16": 312, "bf16": 312, "int8": 624, "int4": 1248},
     "memory_gib": 80, "memory_bandwidth_gbs": 2039,
     "efficiency": {"matmul": 0.8121, "matmul_half_intensity": 203.3, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 60, "peak": 400},
     "flash_attention": true,
     "interconnect": {"devices_per_node": 8,
                      "intra_node": {"kind": "nvlink3", "bandwidth_gbs": 300, "latency_us": 3},
                      "inter_node": {"kind": "hdr-infiniband", "bandwidth_gbs": 25, "latency_us": 5},
                      "host_link": {"kind": "pcie4", "bandwidth_gbs": 32, "latency_us": 2},
                      "host_memory_gib": 2048},
     "price_per_hour_usd": 5.1207,
     "price_source": "AWS p4de.24xlarge on-demand list price, us-east-1, 2024: $40.9657/h ÷ 8 A100-SXM4-80GB"}
    """

    static let h100SXM = """
    {"name": "H100-SXM-80GB", "kind": "gpu",
     "sources": [
       "NVIDIA H100 Tensor Core GPU datasheet (2023): SXM FP32 67 TFLOP/s; TF32 989, FP16/BF16 1979, FP8 3958 TFLOP/s and int8 3958 TOPS are quoted with sparsity and are halved here; 80 GB HBM3 at 3.35 TB/s; up to 700 W",
       "NVIDIA H100 Tensor Core GPU architecture whitepaper (2022): the dense figures TF32 494.7, FP16/BF16 989.4, FP8 1978.9 TFLOP/s, int8 1978.9 TOPS",
       "NVLink 4: 18 links × 25 GB/s = 450 GB/s per direction (900 GB/s both ways); PCIe 5.0 x16, 64 GB/s per direction",
       "NVIDIA DGX H100 (2023): 8 GPUs per node, 8 × 400 Gb/s NDR InfiniBand (ConnectX-7) = 50 GB/s per GPU, 2 TB host memory",
       "FlashAttention-2 (Dao 2023) runs on Ampere, Ada and Hopper GPUs, and PyTorch's scaled_dot_product_attention and Megatron-LM with Transformer Engine pick it there by default: flash_attention true",
       "Estimates, not datasheet figures: idle power, link latencies, 5 µs kernel launch; efficiency: the defaults for GPUs"],
     "peak_tflops": {"fp32": 67, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4, "fp8": 1978.9, "int8": 1978.9},
     "memory_gib": 80, "memory_bandwidth_gbs": 3350,
     "efficiency": {"matmul": 0.7, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 75, "peak": 700},
     "flash_attention": true,
     "interconnect": {"devices_per_node": 8,
                      "intra_node": {"kind": "nvlink4", "bandwidth_gbs": 450, "latency_us": 3},
                      "inter_node": {"kind": "ndr-infiniband", "bandwidth_gbs": 50, "latency_us": 5},
                      "host_link": {"kind": "pcie5", "bandwidth_gbs": 64, "latency_us": 2},
                      "host_memory_gib": 2048},
     "price_per_hour_usd": 12.29,
     "price_source": "AWS p5.48xlarge on-demand list price, us-east-1, 2024: $98.32/h ÷ 8 H100-SXM-80GB"}
    """

    static let h200 = """
    {"name": "H200", "kind": "gpu",
     "sources": [
       "NVIDIA H200 Tensor Core GPU datasheet (2024): SXM, the H100 SXM's compute (dense TF32 494.7, FP16/BF16 989.4, FP8 1978.9 TFLOP/s, int8 1978.9 TOPS: the datasheet's sparse figures halved), 141 GB HBM3e at 4.8 TB/s, up to 700 W",
       "Memory: 141 GB = 141e9 / 2^30 = 131.3 GiB",
       "NVLink 4: 450 GB/s per direction; PCIe 5.0 x16, 64 GB/s per direction; NVIDIA DGX H200 (2024): 8 GPUs per node, 8 × 400 Gb/s NDR InfiniBand = 50 GB/s per GPU, 2 TB host memory",
       "FlashAttention-2 (Dao 2023) runs on Ampere, Ada and Hopper GPUs, and PyTorch's scaled_dot_product_attention and Megatron-LM with Transformer Engine pick it there by default: flash_attention true",
       "Estimates, not datasheet figures: idle power, link latencies, 5 µs kernel launch; efficiency: the defaults for GPUs"],
     "peak_tflops": {"fp32": 67, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4, "fp8": 1978.9, "int8": 1978.9},
     "memory_gib": 131.3, "memory_bandwidth_gbs": 4800,
     "efficiency": {"matmul": 0.7, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 75, "peak": 700},
     "flash_attention": true,
     "interconnect": {"devices_per_node": 8,
                      "intra_node": {"kind": "nvlink4", "bandwidth_gbs": 450, "latency_us": 3},
                      "inter_node": {"kind": "ndr-infiniband", "bandwidth_gbs": 50, "latency_us": 5},
                      "host_link": {"kind": "pcie5", "bandwidth_gbs": 64, "latency_us": 2},
                      "host_memory_gib": 2048}}
    """

    // MARK: NVIDIA inference and desktop GPUs

    static let l4 = """
    {"name": "L4", "kind": "gpu",
     "sources": [
       "NVIDIA L4 Tensor Core GPU datasheet (2023): FP32 30.3 TFLOP/s; TF32 120, FP16/BF16 242, FP8 485 TFLOP/s and int8 485 TOPS are quoted with sparsity and are halved here (60, 121, 242.5, 242.5); 24 GB GDDR6 at 300 GB/s; 72 W; PCIe 4.0 x16",
       "No NVLink: GPUs of one server exchange data over PCIe 4.0 (32 GB/s per direction). 8 per node is a typical inference server (Google Cloud g2-standard-96: 8 L4, 384 GB); no inter-node link is given: add one in your own file for a cluster",
       "FlashAttention-2 (Dao 2023) runs on Ampere, Ada and Hopper GPUs, and PyTorch's scaled_dot_product_attention and Megatron-LM with Transformer Engine pick it there by default: flash_attention true",
       "Estimates, not datasheet figures: idle power, link latencies, 5 µs kernel launch; efficiency: the defaults for GPUs"],
     "peak_tflops": {"fp32": 30.3, "tf32": 60, "fp16": 121, "bf16": 121, "fp8": 242.5, "int8": 242.5},
     "memory_gib": 24, "memory_bandwidth_gbs": 300,
     "efficiency": {"matmul": 0.7, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 16, "peak": 72},
     "flash_attention": true,
     "interconnect": {"devices_per_node": 8,
                      "intra_node": {"kind": "pcie4", "bandwidth_gbs": 32, "latency_us": 5},
                      "host_link": {"kind": "pcie4", "bandwidth_gbs": 32, "latency_us": 2},
                      "host_memory_gib": 384},
     "price_per_hour_usd": 0.8048,
     "price_source": "AWS g6.xlarge (1 L4) on-demand list price, us-east-1, 2024"}
    """

    static let t4 = """
    {"name": "T4", "kind": "gpu",
     "sources": [
       "NVIDIA T4 Tensor Core GPU datasheet (2019): FP32 8.1, mixed-precision FP16/FP32 65 TFLOP/s, int8 130, int4 260 TOPS; 16 GB GDDR6 at 320 GB/s; 70 W; PCIe 3.0 x16 (16 GB/s per direction); no BF16, TF32 or FP8 units",
       "No NVLink: GPUs of one server exchange data over PCIe 3.0. 4 per node is a typical cloud host (AWS g4dn.12xlarge: 4 T4, 192 GiB); no inter-node link is given: add one in your own file for a cluster",
       "Estimates, not datasheet figures: idle power, link latencies, 5 µs kernel launch; efficiency: the defaults for GPUs"],
     "peak_tflops": {"fp32": 8.1, "fp16": 65, "int8": 130, "int4": 260},
     "memory_gib": 16, "memory_bandwidth_gbs": 320,
     "efficiency": {"matmul": 0.7, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 10, "peak": 70},
     "interconnect": {"devices_per_node": 4,
                      "intra_node": {"kind": "pcie3", "bandwidth_gbs": 16, "latency_us": 5},
                      "host_link": {"kind": "pcie3", "bandwidth_gbs": 16, "latency_us": 2},
                      "host_memory_gib": 192},
     "price_per_hour_usd": 0.526,
     "price_source": "AWS g4dn.xlarge (1 T4) on-demand list price, us-east-1, 2024"}
    """

    static let rtx4090 = """
    {"name": "RTX-4090", "kind": "gpu",
     "sources": [
       "NVIDIA Ada GPU architecture whitepaper (2023), GeForce RTX 4090, dense: FP32 82.6, TF32 82.6, FP16 165.2 and BF16 165.2 (FP32 accumulate, the rate training uses; FP16 accumulate is 330.3), FP8 330.3 (FP32 accumulate) TFLOP/s, int8 660.6, int4 1321.2 TOPS; 24 GB GDDR6X at 1008 GB/s; 450 W",
       "One card per desktop: no NVLink, and GeForce drivers do not enable peer-to-peer over PCIe; for a multi-card workstation give devices_per_node and an intra_node PCIe link in your own file",
       "PCIe 4.0 x16 to the host, 32 GB/s per direction; 64 GiB host memory is an assumed desktop",
       "FlashAttention-2 (Dao 2023) runs on Ampere, Ada and Hopper GPUs, and PyTorch's scaled_dot_product_attention and Megatron-LM with Transformer Engine pick it there by default: flash_attention true",
       "Estimates, not datasheet figures: idle power, link latency, 5 µs kernel launch; efficiency: the defaults for GPUs"],
     "peak_tflops": {"fp32": 82.6, "tf32": 82.6, "fp16": 165.2, "bf16": 165.2, "fp8": 330.3, "int8": 660.6, "int4": 1321.2},
     "memory_gib": 24, "memory_bandwidth_gbs": 1008,
     "efficiency": {"matmul": 0.7, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 25, "peak": 450},
     "flash_attention": true,
     "interconnect": {"devices_per_node": 1,
                      "host_link": {"kind": "pcie4", "bandwidth_gbs": 32, "latency_us": 2},
                      "host_memory_gib": 64}}
    """

    // MARK: Google TPUs

    static let tpuV4 = """
    {"name": "TPU-v4", "kind": "tpu",
     "sources": [
       "Google Cloud TPU v4 documentation (2023): 275 TFLOP/s bf16 or int8 per chip, 32 GiB HBM2 at 1200 GB/s, measured min/mean/max power 90/170/192 W",
       "Jouppi et al. 2023, TPU v4: An Optically Reconfigurable Supercomputer for Machine Learning with Hardware Support for Embeddings (ISCA): 4 chips per host (a 2x2x1 tray), a 3D torus of ICI links, large language models train at ~60% of peak FLOP/s (hence matmul efficiency 0.6)",
       "FP32: there are no FP32 matrix units; an FP32-accurate product (XLA precision HIGHEST) splits each operand into three bf16 parts and takes 6 bf16 passes: 275 / 6 = 45.8 TFLOP/s. FP16 and FP8 work falls back to bf16",
       "ICI: 6 links per chip at 400 Gb/s = 50 GB/s per direction each, 300 GB/s per direction in total (a collective gets all of it only across all three torus axes); ICI also joins the hosts of a slice, so inter-node is ICI too (the data-centre network between slices is not modelled)",
       "PCIe 3.0 x16 to the host, 16 GB/s per direction. Estimates: link latencies, 1 µs per-op overhead (XLA fuses a step into few programs), about 400 GiB of host memory per Cloud TPU v4 VM"],
     "peak_tflops": {"bf16": 275, "int8": 275, "fp32": 45.8},
     "memory_gib": 32, "memory_bandwidth_gbs": 1200,
     "efficiency": {"matmul": 0.6, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 1, "power": {"idle": 90, "peak": 192},
     "interconnect": {"devices_per_node": 4,
                      "intra_node": {"kind": "ici", "bandwidth_gbs": 300, "latency_us": 1},
                      "inter_node": {"kind": "ici", "bandwidth_gbs": 300, "latency_us": 2},
                      "host_link": {"kind": "pcie3", "bandwidth_gbs": 16, "latency_us": 2},
                      "host_memory_gib": 400},
     "price_per_hour_usd": 3.22,
     "price_source": "Google Cloud TPU v4 on-demand list price per chip-hour, us-central2, 2024"}
    """

    static let tpuV5e = """
    {"name": "TPU-v5e", "kind": "tpu",
     "sources": [
       "Google Cloud TPU v5e documentation (2024): 197 TFLOP/s bf16, 393 TOPS int8 per chip, 16 GiB HBM2 at 819 GB/s, inter-chip interconnect 400 GB/s bidirectional per chip over 4 ports (200 GB/s per direction), 8 chips and 512 GiB DRAM per host, 256 chips per pod in a 2D torus",
       "FP32: no FP32 matrix units; an FP32-accurate product takes 6 bf16 passes: 197 / 6 = 32.8 TFLOP/s. FP16 and FP8 work falls back to bf16",
       "ICI joins the hosts of a slice, so inter-node is ICI too; between slices each host has 2 × 100 Gb/s of data-centre network (not modelled)",
       "Power is not published by Google: 60 W idle and 200 W peak are estimates (below TPU v4's measured 192 W maximum for a chip with half the TensorCores, plus margin)",
       "Matmul efficiency 0.6 as for TPU v4 (Jouppi et al. 2023); link latencies and the 1 µs per-op overhead are estimates; the host link is not published and is left out"],
     "peak_tflops": {"bf16": 197, "int8": 393, "fp32": 32.8},
     "memory_gib": 16, "memory_bandwidth_gbs": 819,
     "efficiency": {"matmul": 0.6, "vector": 0.5, "memory": 0.8, "network": 0.8},
     "launch_overhead_us": 1, "power": {"idle": 60, "peak": 200},
     "interconnect": {"devices_per_node": 8,
                      "intra_node": {"kind": "ici", "bandwidth_gbs": 200, "latency_us": 1},
                      "inter_node": {"kind": "ici", "bandwidth_gbs": 200, "latency_us": 2},
                      "host_memory_gib": 512},
     "price_per_hour_usd": 1.2,
     "price_source": "Google Cloud TPU v5e on-demand list price per chip-hour, us-central1, 2024"}
    """

    // MARK: Edge devices and small computers

    static let jetsonOrinNano = """
    {"name": "Jetson-Orin-Nano", "kind": "edge",
     "sources": [
       "NVIDIA Jetson Orin Nano series datasheet (2023), 8GB module: Ampere GPU with 1024 CUDA cores and 32 tensor cores at up to 625 MHz, 40 int8 TOPS with sparsity (20 dense, used here), 8 GB 128-bit LPDDR5 at 68 GB/s, 7 W to 15 W power modes",
       "FP32: 1024 cores × 2 flop (FMA) × 0.625 GHz = 1.28 TFLOP/s. FP16/BF16 tensor: half the dense int8 rate, the Ampere tensor-core ratio (A100: 312 vs 624) = 10 TFLOP/s; TF32 half of that = 5",
       "The GPU shares the module's memory with the CPU: the host link is that memory, and there is no separate host memory to offload to",
       "Power: the 7 W and 15 W modes stand for idle and peak (7 W is an upper bound on idle). JetPack 6.1's 'Super' mode (25 W) raises the clocks to 67 sparse TOPS and 102 GB/s; give those in your own file if you use it",
       "Efficiency (edge): matmul 0.5, vector 0.4, memory 0.7, estimates below the data-centre GPUs' for a small, power-capped part; 5 µs kernel launch is an estimate"],
     "peak_tflops": {"fp32": 1.28, "tf32": 5, "fp16": 10, "bf16": 10, "int8": 20},
     "memory_gib": 8, "memory_bandwidth_gbs": 68,
     "efficiency": {"matmul": 0.5, "vector": 0.4, "memory": 0.7, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 7, "peak": 15},
     "interconnect": {"devices_per_node": 1,
                      "host_link": {"kind": "shared-lpddr5", "bandwidth_gbs": 68, "latency_us": 0},
                      "host_memory_gib": 0}}
    """

    static let jetsonAGXOrin = """
    {"name": "Jetson-AGX-Orin", "kind": "edge",
     "sources": [
       "NVIDIA Jetson AGX Orin series technical brief (2022), 64GB module: Ampere GPU with 2048 CUDA cores and 64 tensor cores at up to 1.3 GHz, 5.3 FP32 TFLOP/s, 170 int8 TOPS with sparsity (85 dense, used here) of the module's 275 (the other 105 are the two DLAs, not modelled), 64 GB 256-bit LPDDR5 at 204.8 GB/s, 15 W to 60 W",
       "FP16/BF16 tensor: half the dense int8 rate, the Ampere tensor-core ratio = 42.5 TFLOP/s; TF32 half of that = 21.25",
       "The GPU shares the module's memory with the CPU: the host link is that memory, and there is no separate host memory to offload to",
       "Power: the 15 W and 60 W (MAXN) modes stand for idle and peak (15 W is an upper bound on idle)",
       "Efficiency (edge): matmul 0.5, vector 0.4, memory 0.7, estimates; 5 µs kernel launch is an estimate"],
     "peak_tflops": {"fp32": 5.3, "tf32": 21.25, "fp16": 42.5, "bf16": 42.5, "int8": 85},
     "memory_gib": 64, "memory_bandwidth_gbs": 204.8,
     "efficiency": {"matmul": 0.5, "vector": 0.4, "memory": 0.7, "network": 0.8},
     "launch_overhead_us": 5, "power": {"idle": 15, "peak": 60},
     "interconnect": {"devices_per_node": 1,
                      "host_link": {"kind": "shared-lpddr5", "bandwidth_gbs": 204.8, "latency_us": 0},
                      "host_memory_gib": 0}}
    """

    static let raspberryPi5 = """
    {"name": "Raspberry-Pi-5", "kind": "cpu",
     "sources": [
       "Raspberry Pi 5 product brief (2023), 8GB: Broadcom BCM2712, 4 × Arm Cortex-A76 at 2.4 GHz, 8 GB LPDDR4X-4267",
       "FP32: each A76 core has two 128-bit NEON FMA pipes = 2 × 4 lanes × 2 flop = 16 flop/cycle; 4 cores × 2.4 GHz × 16 = 0.1536 TFLOP/s. FP16 (Armv8.2 half-precision arithmetic, 8 lanes): twice that, 0.3072. No BF16 instructions (they arrive with Armv8.6)",
       "int8: SDOT multiplies 16 int8 pairs into 4 int32 sums per 128-bit instruction (32 ops); two pipes × 4 cores × 2.4 GHz × 32 = 0.6144 TOPS, assuming SDOT issues on both NEON pipes",
       "Memory: 4267 MT/s × 32-bit bus = 17 GB/s; the CPU is the device, so there is no host link and no host memory beyond the device's",
       "Power: about 2.7 W idle and 12 W under full CPU load, as commonly measured for the board alone (estimates; peripherals add more)",
       "Efficiency (cpu): matmul 0.6, vector 0.3, memory 0.6, estimates for OpenBLAS-class kernels on a small SoC with a 32-bit memory bus; 1 µs per-op overhead"],
     "peak_tflops": {"fp32": 0.1536, "fp16": 0.3072, "int8": 0.6144},
     "memory_gib": 8, "memory_bandwidth_gbs": 17,
     "efficiency": {"matmul": 0.6, "vector": 0.3, "memory": 0.6, "network": 0.8},
     "launch_overhead_us": 1, "power": {"idle": 2.7, "peak": 12},
     "interconnect": {"devices_per_node": 1, "host_memory_gib": 0}}
    """
}
