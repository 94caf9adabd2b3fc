extension PyTorchTrainingCode {
    /// The processes, the two ways of stepping (torch itself, or DeepSpeed from its config), the
    /// epoch loop, the evaluation, loading the kept weights and `main`. The same text for every trial: what varies is in the
    /// settings, the model and the optimizer above it.
    static let loopSource = #"""
    def start_processes(deepspeed_config):
        """(rank, processes, device) of this process: one alone, or one of those torchrun or deepspeed started."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        else:
            device = torch.device("cpu")
            if world > 1 and "OMP_NUM_THREADS" not in os.environ:
                torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
        if deepspeed_config:
            import deepspeed

            deepspeed.init_distributed()
        elif world > 1:
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return (dist.get_rank() if dist.is_initialized() else 0), world, device


    class TorchTraining:
        """One process, or DDP under torchrun: the optimizer, schedule, precision and clipping above."""

        def __init__(self, model, device, world):
            self.module = model
            self.device = device
            self.model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None) if world > 1 else model
            self.optimizer = make_optimizer(parameter_groups(model))
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, learning_rate_factor)
            scale = dict(init_scale=LOSS_SCALE, growth_interval=LOSS_SCALE_WINDOW) if PRECISION == "fp16" else {}
            self.scaler = torch.amp.GradScaler(device.type, enabled=PRECISION == "fp16", **scale)
            self.steps = 0

        def autocast(self):
            dtype = torch.float16 if PRECISION == "fp16" else torch.bfloat16
            return torch.autocast(self.device.type, dtype=dtype, enabled=PRECISION != "fp32")

        def inputs(self, x):
            return x.to(self.device)

        def micro_step(self, x, y, weight, boundary):
            """Forward and backward of one micro-batch (loss sum × weight); the optimizer step at a boundary."""
            sync = self.model.no_sync() if isinstance(self.model, DDP) and not boundary else contextlib.nullcontext()
            with sync:
                with self.autocast():
                    loss = summed_loss(self.model(x), y)
                self.scaler.scale(loss * weight / ACCUMULATION).backward()
            if boundary:
                if GRAD_CLIP is not None:
                    self.scaler.unscale_(self.optimizer)
                    nn.utils.clip_grad_norm_(self.module.parameters(), GRAD_CLIP)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.scheduler.step()
                self.steps += 1
            return loss.item()


    class DeepSpeedTraining:
        """DeepSpeed: optimizer, schedule, number format, clipping and accumulation from its config.
        When the config has no scheduler (DeepSpeed has none for step decay), the one above runs."""

        def __init__(self, model, config_path, world):
            import deepspeed

            with open(config_path) as f:
                config = json.load(f)
            if config["train_micro_batch_size_per_gpu"] * world != BATCH:
                sys.exit(f"{config_path} splits the batch of {BATCH} for {BATCH // config['train_micro_batch_size_per_gpu']} "
                         f"processes, not {world}: launch it with --num_gpus {PROCESSES}")
            schedule = None if "scheduler" in config else (lambda optimizer: torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor))
            self.model, _, _, _ = deepspeed.initialize(model=model, model_parameters=parameter_groups(model), config=config, lr_scheduler=schedule)
            self.module = self.model.module
            self.device = self.model.device
            self.dtype = next(self.model.parameters()).dtype
            self.steps = 0

        def autocast(self):
            return contextlib.nullcontext()

        def inputs(self, x):
            return x.to(self.device, dtype=self.dtype if x.is_floating_point() else None)

        def micro_step(self, x, y, weight, boundary):
            loss = summed_loss(self.model(x), y)
            self.model.backward(loss * weight)  # DeepSpeed divides by gradient_accumulation_steps
            self.model.step()  # and steps the optimizer at its accumulation boundaries
            self.steps = self.model.global_steps
            return loss.item()


    def summed_loss(logits, labels):
        """Cross-entropy summed over the micro-batch's labels (every position of a sequence)."""
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1), reduction="sum")


    @torch.no_grad()
    def accuracy(training, x, y):
        """The fraction of labels the model predicts, in batches of BATCH."""
        model = training.module
        model.eval()
        correct = 0
        for lo in range(0, len(y), BATCH):
            with training.autocast():
                logits = model(training.inputs(x[lo : lo + BATCH]))
            correct += (logits.argmax(-1).cpu() == y[lo : lo + BATCH]).sum().item()
        model.train()
        return correct / y.numel()


    def train(training, data, validation, rank, world):
        """EPOCHS passes over the training set in a fresh order each, each batch of BATCH samples
        shared between the processes, until TOTAL_STEPS optimizer steps are taken."""
        x, y = data
        for epoch in range(EPOCHS):
            start = time.time()
            order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED * 1000 + epoch))
            batches = order.split(BATCH)
            loss_sum = torch.zeros(2, dtype=torch.float64)
            for b, batch in enumerate(batches):
                share = batch.tensor_split(world)[rank]
                boundary = (b + 1) % ACCUMULATION == 0 or b == len(batches) - 1
                weight = world / (len(batch) * LABELS_PER_SAMPLE)
                loss = training.micro_step(training.inputs(x[share]), y[share].to(training.device), weight, boundary)
                loss_sum += torch.tensor([loss, y[share].numel()], dtype=torch.float64)
                if training.steps == TOTAL_STEPS:
                    break
            if dist.is_initialized():
                dist.all_reduce(loss_sum)
            if rank == 0:
                line = f"epoch {epoch + 1} train_loss {loss_sum[0] / max(loss_sum[1], 1):.4f}"
                if validation is not None:
                    line += f" validation_accuracy {accuracy(training, *validation):.4f}"
                print(line + f" seconds {time.time() - start:.1f}", flush=True)
            if training.steps == TOTAL_STEPS:
                break


    def load_kept_weights(model):
        """The trained weights the study kept for this trial, from kept_weights.npz (keyed by
        state_dict names, in PyTorch's layouts), into `model`."""
        path = os.path.join(HERE, KEPT_WEIGHTS)
        if not os.path.exists(path):
            sys.exit(f"no {KEPT_WEIGHTS} beside train.py: the study kept no weights for this trial (README.txt says why)")
        with np.load(path) as arrays:
            state = {name: torch.from_numpy(arrays[name]) for name in arrays.files}
        # Every parameter (a tied one once) and every buffer but the batch counters, which the engine does not keep.
        needed = {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers() if not n.endswith("num_batches_tracked")}
        missing, unknown = sorted(needed - state.keys()), sorted(state.keys() - model.state_dict().keys())
        if missing or unknown:
            sys.exit(f"{KEPT_WEIGHTS} does not fit Model: missing {missing}, unknown {unknown}")
        model.load_state_dict(state, strict=False)


    def main():
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--deepspeed_config", metavar="FILE", help="train under DeepSpeed with this config (ds_config.json)")
        parser.add_argument("--deepspeed", action="store_true", help="accepted for DeepSpeed's launchers; --deepspeed_config decides")
        parser.add_argument("--local_rank", type=int, default=-1, help="set by the deepspeed launcher")
        kept = parser.add_mutually_exclusive_group()
        kept.add_argument("--evaluate-kept", action="store_true",
                          help=f"load the trial's trained weights ({KEPT_WEIGHTS}), print their test accuracy and stop: no training")
        kept.add_argument("--init-kept", action="store_true", help=f"start training from the trial's trained weights ({KEPT_WEIGHTS})")
        args = parser.parse_args()

        rank, world, device = start_processes(args.deepspeed_config)
        if BATCH % world:
            sys.exit(f"{world} processes cannot share a batch of {BATCH} samples evenly")
        torch.manual_seed(SEED)
        model = Model().to(device)
        if args.evaluate_kept or args.init_kept:
            load_kept_weights(model)
        if world > 1 and device.type == "cuda":
            # Batch norm over the whole batch, as the engine computes it (SyncBatchNorm needs GPUs;
            # on CPUs each process normalises its own share).
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if rank == 0:
            print(f"parameters {sum(p.numel() for p in model.parameters())}", flush=True)
        if args.evaluate_kept:
            if rank == 0:
                print(f"test_accuracy {accuracy(TorchTraining(model, device, 1), *load_split('test')):.4f}", flush=True)
        else:
            if args.deepspeed_config:
                training = DeepSpeedTraining(model, args.deepspeed_config, world)
            else:
                training = TorchTraining(model, device, world)
            validation = load_split("validation") if os.path.exists(os.path.join(HERE, "validation_x.npy")) else None
            train(training, load_split("train"), validation, rank, world)
            if rank == 0:
                print(f"test_accuracy {accuracy(training, *load_split('test')):.4f}", flush=True)
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


    if __name__ == "__main__":
        main()
    """#
}
