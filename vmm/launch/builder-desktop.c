/* The builder's desktop devices: Looking Glass's ivshmem memory and the sound card. */
#include "vmm/launch/builder-parts.h"

/* The id of the -audiodev the sound card plays through. */
#define AUDIODEV_ID "snd0"

/* Looking Glass: an ivshmem-plain device on the file (or kvmfr device) the client maps. */
static void build_looking_glass(const struct vm_config *c, struct identity *id, struct strv *argv)
{
	struct sink boot = { .argv = argv };
	struct json_object *mem = json_object_new_object(), *dev;

	put_str(mem, "qom-type", "memory-backend-file");
	put_str(mem, "id", "mem-looking-glass");
	put_str(mem, "mem-path", c->lg_path);
	put_int(mem, "size", (int64_t)c->lg_size);
	put_bool(mem, "share", true);
	push_json(argv, "-object", mem);
	dev = device("ivshmem-plain", "looking-glass");
	place_pci(c, id, "looking-glass", false, dev, &boot);
	put_str(dev, "memdev", "mem-looking-glass");
	push_json(argv, "-device", dev);
}

/* Sound: the host's server as the audiodev, an HD Audio controller (ICH9's on q35) and a
 * codec with output and input. */
static void build_audio(const struct vm_config *c, struct identity *id, struct strv *argv)
{
	struct sink boot = { .argv = argv };
	struct json_object *dev = json_object_new_object(), *codec;

	put_str(dev, "id", AUDIODEV_ID);
	put_str(dev, "driver", audio_names[c->audio].qemu);
	push_json(argv, "-audiodev", dev);
	dev = device(c->machine == MACHINE_Q35 ? "ich9-intel-hda" : "intel-hda", "sound0");
	place_pci(c, id, "sound", false, dev, &boot);
	push_json(argv, "-device", dev);
	codec = device("hda-duplex", "sound0-codec0");
	put_str(codec, "bus", "sound0.0");
	put_int(codec, "cad", 0);
	put_str(codec, "audiodev", AUDIODEV_ID);
	push_json(argv, "-device", codec);
}

void build_desktop(const struct vm_config *c, struct identity *id, struct strv *argv)
{
	if (c->looking_glass)
		build_looking_glass(c, id, argv);
	if (c->audio != AUDIO_NONE)
		build_audio(c, id, argv);
}
