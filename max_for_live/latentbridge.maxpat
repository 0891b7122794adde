{
	"patcher" : {
		"fileversion" : 1,
		"appversion" : {
			"major" : 8,
			"minor" : 5,
			"revision" : 5,
			"architecture" : "x64",
			"modernui" : 1
		},
		"classnamespace" : "box",
		"rect" : [ 100.0, 100.0, 900.0, 700.0 ],
		"openrect" : [ 0.0, 0.0, 0.0, 169.0 ],
		"bglocked" : 0,
		"openinpresentation" : 1,
		"default_fontsize" : 10.0,
		"default_fontface" : 0,
		"default_fontname" : "Arial Bold",
		"gridonopen" : 1,
		"gridsize" : [ 8.0, 8.0 ],
		"gridsnaponopen" : 1,
		"objectsnaponopen" : 1,
		"statusbarvisible" : 2,
		"toolbarvisible" : 1,
		"description" : "latentbridge: co-create with music VAEs; talks to python -m bridge over OSC",
		"digest" : "Capture clips, generate, interpolate and stream bars from a latentbridge bridge",
		"tags" : "latentbridge musicvae osc",
		"devicewidth" : 432.0,
		"boxes" : [
			{
				"box" : {
					"id" : "obj-thisdevice",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 20.0, 20.0, 85.0, 22.0 ],
					"outlettype" : [ "bang", "int", "int" ],
					"text" : "live.thisdevice"
				}
			},
			{
				"box" : {
					"id" : "obj-udpreceive",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 130.0, 20.0, 100.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "udpreceive 9001"
				}
			},
			{
				"box" : {
					"id" : "obj-js",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 20.0, 300.0, 190.0, 22.0 ],
					"outlettype" : [ "", "", "" ],
					"text" : "js latentbridge.js",
					"saved_object_attributes" : {
						"filename" : "latentbridge.js",
						"parameter_enable" : 0
					}
				}
			},
			{
				"box" : {
					"id" : "obj-udpsend",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 360.0, 140.0, 22.0 ],
					"text" : "udpsend 127.0.0.1 9000"
				}
			},
			{
				"box" : {
					"id" : "obj-midiin",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 620.0, 20.0, 45.0, 22.0 ],
					"outlettype" : [ "int" ],
					"text" : "midiin"
				}
			},
			{
				"box" : {
					"id" : "obj-midiout",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 620.0, 560.0, 55.0, 22.0 ],
					"text" : "midiout"
				}
			},
			{
				"box" : {
					"id" : "obj-routeplay",
					"maxclass" : "newobj",
					"numinlets" : 4,
					"numoutlets" : 4,
					"patching_rect" : [ 230.0, 360.0, 100.0, 22.0 ],
					"outlettype" : [ "", "", "", "" ],
					"text" : "route note clear flush"
				}
			},
			{
				"box" : {
					"id" : "obj-pipe",
					"maxclass" : "newobj",
					"numinlets" : 4,
					"numoutlets" : 3,
					"patching_rect" : [ 230.0, 400.0, 90.0, 22.0 ],
					"outlettype" : [ "", "", "" ],
					"text" : "pipe 0 0 0 0"
				}
			},
			{
				"box" : {
					"id" : "obj-clearbang",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 340.0, 400.0, 40.0, 22.0 ],
					"outlettype" : [ "bang", "bang" ],
					"text" : "t b b"
				}
			},
			{
				"box" : {
					"id" : "obj-clearmsg",
					"maxclass" : "message",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 340.0, 440.0, 40.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "clear"
				}
			},
			{
				"box" : {
					"id" : "obj-stopmsg",
					"maxclass" : "message",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 390.0, 440.0, 40.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "stop"
				}
			},
			{
				"box" : {
					"id" : "obj-makenote",
					"maxclass" : "newobj",
					"numinlets" : 3,
					"numoutlets" : 2,
					"patching_rect" : [ 230.0, 480.0, 105.0, 22.0 ],
					"outlettype" : [ "float", "float" ],
					"text" : "makenote 100 250"
				}
			},
			{
				"box" : {
					"id" : "obj-pack",
					"maxclass" : "newobj",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 230.0, 520.0, 55.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "pack 0 0"
				}
			},
			{
				"box" : {
					"id" : "obj-midiformat",
					"maxclass" : "newobj",
					"numinlets" : 7,
					"numoutlets" : 2,
					"patching_rect" : [ 230.0, 560.0, 90.0, 22.0 ],
					"outlettype" : [ "int", "" ],
					"text" : "midiformat"
				}
			},
			{
				"box" : {
					"id" : "obj-routeui",
					"maxclass" : "newobj",
					"numinlets" : 13,
					"numoutlets" : 13,
					"patching_rect" : [ 420.0, 360.0, 400.0, 22.0 ],
					"outlettype" : [ "", "", "", "", "", "", "", "", "", "", "", "", "" ],
					"text" : "route status connected models model port savemodel modes tool active savemode answer temperature"
				}
			},
			{
				"box" : {
					"id" : "obj-setstatus",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 420.0, 400.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-setled",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 500.0, 400.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-setmodels",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 580.0, 400.0, 150.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend _parameter_range"
				}
			},
			{
				"box" : {
					"id" : "obj-setmodel",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 740.0, 400.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-status",
					"maxclass" : "message",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 420.0, 440.0, 300.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "press Connect (bridge: python -m bridge)",
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 4.0, 336.0, 20.0 ],
					"hint" : "What the device and the bridge are doing; errors show here.",
					"annotation" : "What the device and the bridge are doing; errors show here.",
					"ignoreclick" : 1
				}
			},
			{
				"box" : {
					"id" : "obj-led",
					"maxclass" : "led",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 500.0, 440.0, 20.0, 20.0 ],
					"outlettype" : [ "int" ],
					"presentation" : 1,
					"presentation_rect" : [ 344.0, 5.0, 18.0, 18.0 ],
					"ignoreclick" : 1,
					"hint" : "Lit while the bridge answers pings.",
					"annotation" : "Lit while the bridge answers pings."
				}
			},
			{
				"box" : {
					"id" : "obj-connect",
					"maxclass" : "live.text",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 20.0, 120.0, 60.0, 20.0 ],
					"outlettype" : [ "", "" ],
					"text" : "Connect",
					"presentation" : 1,
					"presentation_rect" : [ 366.0, 4.0, 62.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "connect",
					"hint" : "Say hello to the bridge on 127.0.0.1:9000 and fetch its models. If it does not answer within a second, start it with: python -m bridge",
					"annotation" : "Say hello to the bridge on 127.0.0.1:9000 and fetch its models. If it does not answer within a second, start it with: python -m bridge",
					"annotation_name" : "Connect",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Connect",
							"parameter_shortname" : "Connect",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ],
							"parameter_invisible" : 2
						}
					},
					"mode" : 0,
					"texton" : "Connect"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_connect",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 20.0, 180.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend connect"
				}
			},
			{
				"box" : {
					"id" : "obj-model",
					"maxclass" : "live.menu",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 90.0, 120.0, 100.0, 15.0 ],
					"outlettype" : [ "", "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 30.0, 150.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "model",
					"hint" : "The model bundle the bridge loads (the list comes from the bridge). The model you pick is saved with the Live set and loaded again when the set opens.",
					"annotation" : "The model bundle the bridge loads (the list comes from the bridge). The model you pick is saved with the Live set and loaded again when the set opens.",
					"annotation_name" : "Model",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Model",
							"parameter_shortname" : "Model",
							"parameter_type" : 2,
							"parameter_mmax" : 0,
							"parameter_enum" : [ "(press Connect)" ],
							"parameter_invisible" : 2
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_model",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 90.0, 210.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend model"
				}
			},
			{
				"box" : {
					"id" : "obj-mode",
					"maxclass" : "live.menu",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 200.0, 120.0, 100.0, 15.0 ],
					"outlettype" : [ "", "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 160.0, 30.0, 120.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "mode",
					"hint" : "Tool: what the bridge offers for the loaded model (sample, interpolate, vary, and more as the bridge adds them); the controls a tool does not use are dimmed. Kept with the set.",
					"annotation" : "Tool: what the bridge offers for the loaded model (sample, interpolate, vary, and more as the bridge adds them); the controls a tool does not use are dimmed. Kept with the set.",
					"annotation_name" : "Mode",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Mode",
							"parameter_shortname" : "Tool",
							"parameter_type" : 2,
							"parameter_mmax" : 0,
							"parameter_enum" : [ "sample" ],
							"parameter_invisible" : 2
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_mode",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 200.0, 240.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend mode"
				}
			},
			{
				"box" : {
					"id" : "obj-capture_a",
					"maxclass" : "live.text",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 20.0, 160.0, 60.0, 20.0 ],
					"outlettype" : [ "", "" ],
					"text" : "Capture A",
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 54.0, 62.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "capture_a",
					"hint" : "Send the selected MIDI clip (Session or Arrangement) to slot A.",
					"annotation" : "Send the selected MIDI clip (Session or Arrangement) to slot A.",
					"annotation_name" : "Capture A",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Capture A",
							"parameter_shortname" : "Capture A",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ],
							"parameter_invisible" : 2
						}
					},
					"mode" : 0,
					"texton" : "Capture A"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_capture_a",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 20.0, 270.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend capture_a"
				}
			},
			{
				"box" : {
					"id" : "obj-capture_b",
					"maxclass" : "live.text",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 90.0, 160.0, 60.0, 20.0 ],
					"outlettype" : [ "", "" ],
					"text" : "Capture B",
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 78.0, 62.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "capture_b",
					"hint" : "Send the selected MIDI clip to slot B (the end point of interpolate).",
					"annotation" : "Send the selected MIDI clip to slot B (the end point of interpolate).",
					"annotation_name" : "Capture B",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Capture B",
							"parameter_shortname" : "Capture B",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ],
							"parameter_invisible" : 2
						}
					},
					"mode" : 0,
					"texton" : "Capture B"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_capture_b",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 90.0, 300.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend capture_b"
				}
			},
			{
				"box" : {
					"id" : "obj-position",
					"maxclass" : "live.dial",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 160.0, 160.0, 44.0, 48.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 72.0, 54.0, 44.0, 48.0 ],
					"parameter_enable" : 1,
					"varname" : "position",
					"hint" : "Interpolation position: 0 = slot A, 1 = slot B.",
					"annotation" : "Interpolation position: 0 = slot A, 1 = slot B.",
					"annotation_name" : "Position",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Position",
							"parameter_shortname" : "A>B",
							"parameter_type" : 0,
							"parameter_mmin" : 0.0,
							"parameter_mmax" : 1.0,
							"parameter_unitstyle" : 1,
							"parameter_initial" : [ 0.5 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_position",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 160.0, 330.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend position"
				}
			},
			{
				"box" : {
					"id" : "obj-temperature",
					"maxclass" : "live.dial",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 210.0, 160.0, 44.0, 48.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 120.0, 54.0, 44.0, 48.0 ],
					"parameter_enable" : 1,
					"varname" : "temperature",
					"hint" : "Sampling temperature: low = safe and repetitive, 1 = the model's own distribution, high = adventurous.",
					"annotation" : "Sampling temperature: low = safe and repetitive, 1 = the model's own distribution, high = adventurous.",
					"annotation_name" : "Temperature",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Temperature",
							"parameter_shortname" : "Temp",
							"parameter_type" : 0,
							"parameter_mmin" : 0.05,
							"parameter_mmax" : 2.0,
							"parameter_unitstyle" : 1,
							"parameter_initial" : [ 1.0 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_temperature",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 210.0, 360.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend temperature"
				}
			},
			{
				"box" : {
					"id" : "obj-amount",
					"maxclass" : "live.dial",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 260.0, 160.0, 44.0, 48.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 168.0, 54.0, 44.0, 48.0 ],
					"parameter_enable" : 1,
					"varname" : "amount",
					"hint" : "How far a variation strays from slot A (vary mode).",
					"annotation" : "How far a variation strays from slot A (vary mode).",
					"annotation_name" : "Amount",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Amount",
							"parameter_shortname" : "Amount",
							"parameter_type" : 0,
							"parameter_mmin" : 0.0,
							"parameter_mmax" : 1.0,
							"parameter_unitstyle" : 1,
							"parameter_initial" : [ 0.3 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_amount",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 260.0, 390.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend amount"
				}
			},
			{
				"box" : {
					"id" : "obj-bars",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 310.0, 160.0, 40.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 218.0, 58.0, 40.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "bars",
					"hint" : "Bars per generated clip (1 up to the model's length).",
					"annotation" : "Bars per generated clip (1 up to the model's length).",
					"annotation_name" : "Bars",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Bars",
							"parameter_shortname" : "Bars",
							"parameter_type" : 1,
							"parameter_mmin" : 1,
							"parameter_mmax" : 16,
							"parameter_unitstyle" : 0,
							"parameter_initial" : [ 2 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_bars",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 310.0, 420.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend bars"
				}
			},
			{
				"box" : {
					"id" : "obj-stream",
					"maxclass" : "live.toggle",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 360.0, 160.0, 20.0, 20.0 ],
					"outlettype" : [ "" ],
					"presentation" : 1,
					"presentation_rect" : [ 262.0, 56.0, 18.0, 18.0 ],
					"parameter_enable" : 1,
					"varname" : "stream",
					"hint" : "Stream generated bars ahead of the playhead; they play on this track.",
					"annotation" : "Stream generated bars ahead of the playhead; they play on this track.",
					"annotation_name" : "Stream",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Stream",
							"parameter_shortname" : "Stream",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ],
							"parameter_initial" : [ 0 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_stream",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 360.0, 450.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend stream"
				}
			},
			{
				"box" : {
					"id" : "obj-write",
					"maxclass" : "live.text",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 390.0, 160.0, 80.0, 20.0 ],
					"outlettype" : [ "", "" ],
					"text" : "Write clip",
					"presentation" : 1,
					"presentation_rect" : [ 284.0, 54.0, 76.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "write_clip",
					"hint" : "Generate once with the current settings and write the result into the first empty clip slot of this track.",
					"annotation" : "Generate once with the current settings and write the result into the first empty clip slot of this track.",
					"annotation_name" : "Write Clip",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Write Clip",
							"parameter_shortname" : "Write",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ],
							"parameter_invisible" : 2
						}
					},
					"mode" : 0,
					"texton" : "Write clip"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_write",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 390.0, 480.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend write"
				}
			},
			{
				"box" : {
					"id" : "obj-label_stream",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 360.0, 185.0, 40.0, 18.0 ],
					"text" : "stream",
					"presentation" : 1,
					"presentation_rect" : [ 258.0, 76.0, 40.0, 18.0 ],
					"fontsize" : 9.0
				}
			},
			{
				"box" : {
					"id" : "obj-title",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 600.0, 120.0, 20.0 ],
					"text" : "latentbridge",
					"presentation" : 1,
					"presentation_rect" : [ 300.0, 80.0, 80.0, 18.0 ],
					"fontsize" : 9.0
				}
			},
			{
				"box" : {
					"id" : "obj-setport",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 560.0, 340.0, 80.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend port"
				}
			},
			{
				"box" : {
					"id" : "obj-savemodel",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 650.0, 340.0, 80.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-savedmodel",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 650.0, 370.0, 100.0, 22.0 ],
					"outlettype" : [ "", "", "" ],
					"text" : "pattr lb_model",
					"varname" : "lb_model",
					"parameter_enable" : 1,
					"saved_object_attributes" : {
						"parameter_enable" : 1,
						"parameter_mappable" : 0
					},
					"hint" : "Stores the model picked in the Model menu with the Live set (not automatable), so the set loads it again when it opens.",
					"annotation" : "Stores the model picked in the Model menu with the Live set (not automatable), so the set loads it again when it opens.",
					"annotation_name" : "Saved Model",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Saved Model",
							"parameter_shortname" : "Saved Model",
							"parameter_type" : 3,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_saved_model",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 650.0, 400.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend saved_model"
				}
			},
			{
				"box" : {
					"id" : "obj-setmodes",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 760.0, 400.0, 150.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend _parameter_range"
				}
			},
			{
				"box" : {
					"id" : "obj-settool",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 760.0, 430.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-routeactive",
					"maxclass" : "newobj",
					"numinlets" : 8,
					"numoutlets" : 8,
					"patching_rect" : [ 760.0, 460.0, 230.0, 22.0 ],
					"outlettype" : [ "", "", "", "", "", "", "", "" ],
					"text" : "route capture_a capture_b position amount continue_bars follow_bars answer"
				}
			},
			{
				"box" : {
					"id" : "obj-active_capture_a",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 760.0, 490.0, 90.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend active"
				}
			},
			{
				"box" : {
					"id" : "obj-active_capture_b",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 820.0, 490.0, 90.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend active"
				}
			},
			{
				"box" : {
					"id" : "obj-active_position",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 880.0, 490.0, 90.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend active"
				}
			},
			{
				"box" : {
					"id" : "obj-active_amount",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 940.0, 490.0, 90.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend active"
				}
			},
			{
				"box" : {
					"id" : "obj-savemode",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 850.0, 340.0, 80.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-savedmode",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 850.0, 370.0, 100.0, 22.0 ],
					"outlettype" : [ "", "", "" ],
					"text" : "pattr lb_mode",
					"varname" : "lb_mode",
					"parameter_enable" : 1,
					"saved_object_attributes" : {
						"parameter_enable" : 1,
						"parameter_mappable" : 0
					},
					"hint" : "The tool picked in the Mode menu, stored with the Live set and chosen again when it opens.",
					"annotation" : "The tool picked in the Mode menu, stored with the Live set and chosen again when it opens.",
					"annotation_name" : "Saved Mode",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Saved Mode",
							"parameter_shortname" : "Saved Mode",
							"parameter_type" : 3,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_saved_mode",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 850.0, 400.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend saved_mode"
				}
			},
			{
				"box" : {
					"id" : "obj-notetrig",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 230.0, 300.0, 40.0, 22.0 ],
					"outlettype" : [ "", "bang" ],
					"text" : "t l b"
				}
			},
			{
				"box" : {
					"id" : "obj-transport",
					"maxclass" : "newobj",
					"numinlets" : 2,
					"numoutlets" : 9,
					"patching_rect" : [ 330.0, 300.0, 100.0, 22.0 ],
					"outlettype" : [ "int", "int", "float", "float", "float", "", "int", "float", "" ],
					"text" : "transport"
				}
			},
			{
				"box" : {
					"id" : "obj-unpack",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 4,
					"patching_rect" : [ 230.0, 340.0, 90.0, 22.0 ],
					"outlettype" : [ "int", "int", "int", "float" ],
					"text" : "unpack 0 0 0 0."
				}
			},
			{
				"box" : {
					"id" : "obj-minus",
					"maxclass" : "newobj",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 330.0, 340.0, 40.0, 22.0 ],
					"outlettype" : [ "float" ],
					"text" : "- 0."
				}
			},
			{
				"box" : {
					"id" : "obj-ticksmsg",
					"maxclass" : "message",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 330.0, 370.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "$1 ticks"
				}
			},
			{
				"box" : {
					"id" : "obj-drum0",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 20.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_0",
					"hint" : "Drum map: the note of the kick pad on this track's drum rack. Drum models write their kick there and read it from there (General MIDI: 36). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the kick pad on this track's drum rack. Drum models write their kick there and read it from there (General MIDI: 36). Saved with the set, not automatable.",
					"annotation_name" : "Kick Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Kick Pad",
							"parameter_shortname" : "kick",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 36 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum0",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 20.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 0"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum0",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 540.0, 44.0, 18.0 ],
					"text" : "kick",
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-drum1",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 80.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 51.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_1",
					"hint" : "Drum map: the note of the snare pad on this track's drum rack. Drum models write their snare there and read it from there (General MIDI: 38). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the snare pad on this track's drum rack. Drum models write their snare there and read it from there (General MIDI: 38). Saved with the set, not automatable.",
					"annotation_name" : "Snare Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Snare Pad",
							"parameter_shortname" : "snare",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 38 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum1",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 80.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 1"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum1",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 80.0, 540.0, 44.0, 18.0 ],
					"text" : "snare",
					"presentation" : 1,
					"presentation_rect" : [ 51.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-drum2",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 140.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 98.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_2",
					"hint" : "Drum map: the note of the closed hat pad on this track's drum rack. Drum models write their closed hat there and read it from there (General MIDI: 42). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the closed hat pad on this track's drum rack. Drum models write their closed hat there and read it from there (General MIDI: 42). Saved with the set, not automatable.",
					"annotation_name" : "Closed Hat Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Closed Hat Pad",
							"parameter_shortname" : "c.hat",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 42 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum2",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 140.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 2"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum2",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 140.0, 540.0, 44.0, 18.0 ],
					"text" : "c.hat",
					"presentation" : 1,
					"presentation_rect" : [ 98.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-drum3",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 200.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 145.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_3",
					"hint" : "Drum map: the note of the open hat pad on this track's drum rack. Drum models write their open hat there and read it from there (General MIDI: 46). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the open hat pad on this track's drum rack. Drum models write their open hat there and read it from there (General MIDI: 46). Saved with the set, not automatable.",
					"annotation_name" : "Open Hat Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Open Hat Pad",
							"parameter_shortname" : "o.hat",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 46 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum3",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 200.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 3"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum3",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 200.0, 540.0, 44.0, 18.0 ],
					"text" : "o.hat",
					"presentation" : 1,
					"presentation_rect" : [ 145.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-drum4",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 260.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 192.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_4",
					"hint" : "Drum map: the note of the low tom pad on this track's drum rack. Drum models write their low tom there and read it from there (General MIDI: 45). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the low tom pad on this track's drum rack. Drum models write their low tom there and read it from there (General MIDI: 45). Saved with the set, not automatable.",
					"annotation_name" : "Low Tom Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Low Tom Pad",
							"parameter_shortname" : "lo tom",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 45 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum4",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 260.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 4"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum4",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 260.0, 540.0, 44.0, 18.0 ],
					"text" : "lo tom",
					"presentation" : 1,
					"presentation_rect" : [ 192.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-drum5",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 320.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 239.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_5",
					"hint" : "Drum map: the note of the mid tom pad on this track's drum rack. Drum models write their mid tom there and read it from there (General MIDI: 48). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the mid tom pad on this track's drum rack. Drum models write their mid tom there and read it from there (General MIDI: 48). Saved with the set, not automatable.",
					"annotation_name" : "Mid Tom Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Mid Tom Pad",
							"parameter_shortname" : "mid tom",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 48 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum5",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 320.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 5"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum5",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 320.0, 540.0, 44.0, 18.0 ],
					"text" : "mid tom",
					"presentation" : 1,
					"presentation_rect" : [ 239.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-drum6",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 380.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 286.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_6",
					"hint" : "Drum map: the note of the high tom pad on this track's drum rack. Drum models write their high tom there and read it from there (General MIDI: 50). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the high tom pad on this track's drum rack. Drum models write their high tom there and read it from there (General MIDI: 50). Saved with the set, not automatable.",
					"annotation_name" : "High Tom Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "High Tom Pad",
							"parameter_shortname" : "hi tom",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 50 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum6",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 380.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 6"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum6",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 380.0, 540.0, 44.0, 18.0 ],
					"text" : "hi tom",
					"presentation" : 1,
					"presentation_rect" : [ 286.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-drum7",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 440.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 333.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_7",
					"hint" : "Drum map: the note of the crash pad on this track's drum rack. Drum models write their crash there and read it from there (General MIDI: 49). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the crash pad on this track's drum rack. Drum models write their crash there and read it from there (General MIDI: 49). Saved with the set, not automatable.",
					"annotation_name" : "Crash Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Crash Pad",
							"parameter_shortname" : "crash",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 49 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum7",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 440.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 7"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum7",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 440.0, 540.0, 44.0, 18.0 ],
					"text" : "crash",
					"presentation" : 1,
					"presentation_rect" : [ 333.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-drum8",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 500.0, 560.0, 44.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 380.0, 122.0, 44.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "drum_8",
					"hint" : "Drum map: the note of the ride pad on this track's drum rack. Drum models write their ride there and read it from there (General MIDI: 51). Saved with the set, not automatable.",
					"annotation" : "Drum map: the note of the ride pad on this track's drum rack. Drum models write their ride there and read it from there (General MIDI: 51). Saved with the set, not automatable.",
					"annotation_name" : "Ride Pad",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Ride Pad",
							"parameter_shortname" : "ride",
							"parameter_type" : 1,
							"parameter_mmin" : 0,
							"parameter_mmax" : 127,
							"parameter_unitstyle" : 8,
							"parameter_initial" : [ 51 ],
							"parameter_initial_enable" : 1,
							"parameter_invisible" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_drum8",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 500.0, 590.0, 60.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend drum 8"
				}
			},
			{
				"box" : {
					"id" : "obj-label_drum8",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 500.0, 540.0, 44.0, 18.0 ],
					"text" : "ride",
					"presentation" : 1,
					"presentation_rect" : [ 380.0, 106.0, 44.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-label_drummap",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 620.0, 300.0, 18.0 ],
					"text" : "drum map: pad notes for drum models (saved with the set)",
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 140.0, 300.0, 16.0 ]
				}
			},
			{
				"box" : {
					"id" : "obj-answer",
					"maxclass" : "live.menu",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 470.0, 120.0, 80.0, 15.0 ],
					"outlettype" : [ "", "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 286.0, 30.0, 62.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "answer",
					"hint" : "Follow mode: what answers the bars you play into the bridge (a variation, a continuation, a groove of your drums, drums for your rhythm); a model answers with the ones it offers. Kept with the set.",
					"annotation" : "Follow mode: what answers the bars you play into the bridge (a variation, a continuation, a groove of your drums, drums for your rhythm); a model answers with the ones it offers. Kept with the set.",
					"annotation_name" : "Answer",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Answer",
							"parameter_shortname" : "Answer",
							"parameter_type" : 2,
							"parameter_mmax" : 3,
							"parameter_enum" : [ "vary", "continue", "groove", "drumify" ],
							"parameter_initial" : [ 0 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-follow_bars",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 560.0, 120.0, 50.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 352.0, 30.0, 76.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "follow_bars",
					"hint" : "Follow mode: every this many bars, the bars you just played are answered in the next ones (call and response).",
					"annotation" : "Follow mode: every this many bars, the bars you just played are answered in the next ones (call and response).",
					"annotation_name" : "Follow Bars",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Follow Bars",
							"parameter_shortname" : "Every",
							"parameter_type" : 1,
							"parameter_mmin" : 1,
							"parameter_mmax" : 16,
							"parameter_unitstyle" : 9,
							"parameter_units" : "every %d",
							"parameter_initial" : [ 2 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-continue_bars",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 480.0, 160.0, 50.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 364.0, 56.0, 64.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "continue_bars",
					"hint" : "Continue mode: bars added after the clip in slot A (streamed: the length of each continuation before it starts again from the clip).",
					"annotation" : "Continue mode: bars added after the clip in slot A (streamed: the length of each continuation before it starts again from the clip).",
					"annotation_name" : "Continue Bars",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Continue Bars",
							"parameter_shortname" : "+Bars",
							"parameter_type" : 1,
							"parameter_mmin" : 1,
							"parameter_mmax" : 64,
							"parameter_unitstyle" : 9,
							"parameter_units" : "+%d bars",
							"parameter_initial" : [ 2 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_answer",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 470.0, 510.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend answer"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_follow_bars",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 560.0, 510.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend follow_bars"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_continue_bars",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 480.0, 540.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend continue_bars"
				}
			},
			{
				"box" : {
					"id" : "obj-settemperature",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 1020.0, 340.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-setanswer",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 940.0, 340.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-active_continue_bars",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 1000.0, 490.0, 90.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend active"
				}
			},
			{
				"box" : {
					"id" : "obj-active_follow_bars",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 1060.0, 490.0, 90.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend active"
				}
			},
			{
				"box" : {
					"id" : "obj-active_answer",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 1120.0, 490.0, 90.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend active"
				}
			}
		],
		"lines" : [
			{
				"patchline" : {
					"source" : [ "obj-thisdevice", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-udpreceive", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-js", 0 ],
					"destination" : [ "obj-udpsend", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-midiin", 0 ],
					"destination" : [ "obj-midiout", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-js", 1 ],
					"destination" : [ "obj-routeplay", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeplay", 1 ],
					"destination" : [ "obj-clearbang", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-clearbang", 1 ],
					"destination" : [ "obj-clearmsg", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-clearbang", 0 ],
					"destination" : [ "obj-stopmsg", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-clearmsg", 0 ],
					"destination" : [ "obj-pipe", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-stopmsg", 0 ],
					"destination" : [ "obj-makenote", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pipe", 0 ],
					"destination" : [ "obj-makenote", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pipe", 1 ],
					"destination" : [ "obj-makenote", 1 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pipe", 2 ],
					"destination" : [ "obj-makenote", 2 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-makenote", 0 ],
					"destination" : [ "obj-pack", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-makenote", 1 ],
					"destination" : [ "obj-pack", 1 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pack", 0 ],
					"destination" : [ "obj-midiformat", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-midiformat", 0 ],
					"destination" : [ "obj-midiout", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-js", 2 ],
					"destination" : [ "obj-routeui", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 0 ],
					"destination" : [ "obj-setstatus", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 1 ],
					"destination" : [ "obj-setled", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 2 ],
					"destination" : [ "obj-setmodels", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 3 ],
					"destination" : [ "obj-setmodel", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setmodels", 0 ],
					"destination" : [ "obj-model", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setmodel", 0 ],
					"destination" : [ "obj-model", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setstatus", 0 ],
					"destination" : [ "obj-status", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setled", 0 ],
					"destination" : [ "obj-led", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-connect", 0 ],
					"destination" : [ "obj-pre_connect", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_connect", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-model", 0 ],
					"destination" : [ "obj-pre_model", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_model", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-mode", 0 ],
					"destination" : [ "obj-pre_mode", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_mode", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-capture_a", 0 ],
					"destination" : [ "obj-pre_capture_a", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_capture_a", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-capture_b", 0 ],
					"destination" : [ "obj-pre_capture_b", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_capture_b", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-position", 0 ],
					"destination" : [ "obj-pre_position", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_position", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-temperature", 0 ],
					"destination" : [ "obj-pre_temperature", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_temperature", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-amount", 0 ],
					"destination" : [ "obj-pre_amount", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_amount", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-bars", 0 ],
					"destination" : [ "obj-pre_bars", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_bars", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-stream", 0 ],
					"destination" : [ "obj-pre_stream", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_stream", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-write", 0 ],
					"destination" : [ "obj-pre_write", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_write", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 4 ],
					"destination" : [ "obj-setport", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setport", 0 ],
					"destination" : [ "obj-udpreceive", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 5 ],
					"destination" : [ "obj-savemodel", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-savemodel", 0 ],
					"destination" : [ "obj-savedmodel", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-savedmodel", 0 ],
					"destination" : [ "obj-pre_saved_model", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_saved_model", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeplay", 2 ],
					"destination" : [ "obj-clearmsg", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeplay", 0 ],
					"destination" : [ "obj-notetrig", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-notetrig", 1 ],
					"destination" : [ "obj-transport", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-transport", 7 ],
					"destination" : [ "obj-minus", 1 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-notetrig", 0 ],
					"destination" : [ "obj-unpack", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-unpack", 3 ],
					"destination" : [ "obj-minus", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-minus", 0 ],
					"destination" : [ "obj-ticksmsg", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-ticksmsg", 0 ],
					"destination" : [ "obj-pipe", 3 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-unpack", 0 ],
					"destination" : [ "obj-pipe", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-unpack", 1 ],
					"destination" : [ "obj-pipe", 1 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-unpack", 2 ],
					"destination" : [ "obj-pipe", 2 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum0", 0 ],
					"destination" : [ "obj-pre_drum0", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum0", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum1", 0 ],
					"destination" : [ "obj-pre_drum1", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum1", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum2", 0 ],
					"destination" : [ "obj-pre_drum2", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum2", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum3", 0 ],
					"destination" : [ "obj-pre_drum3", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum3", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum4", 0 ],
					"destination" : [ "obj-pre_drum4", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum4", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum5", 0 ],
					"destination" : [ "obj-pre_drum5", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum5", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum6", 0 ],
					"destination" : [ "obj-pre_drum6", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum6", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum7", 0 ],
					"destination" : [ "obj-pre_drum7", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum7", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-drum8", 0 ],
					"destination" : [ "obj-pre_drum8", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_drum8", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 6 ],
					"destination" : [ "obj-setmodes", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setmodes", 0 ],
					"destination" : [ "obj-mode", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 7 ],
					"destination" : [ "obj-settool", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-settool", 0 ],
					"destination" : [ "obj-mode", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 8 ],
					"destination" : [ "obj-routeactive", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeactive", 0 ],
					"destination" : [ "obj-active_capture_a", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-active_capture_a", 0 ],
					"destination" : [ "obj-capture_a", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeactive", 1 ],
					"destination" : [ "obj-active_capture_b", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-active_capture_b", 0 ],
					"destination" : [ "obj-capture_b", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeactive", 2 ],
					"destination" : [ "obj-active_position", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-active_position", 0 ],
					"destination" : [ "obj-position", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeactive", 3 ],
					"destination" : [ "obj-active_amount", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-active_amount", 0 ],
					"destination" : [ "obj-amount", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 9 ],
					"destination" : [ "obj-savemode", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-savemode", 0 ],
					"destination" : [ "obj-savedmode", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-savedmode", 0 ],
					"destination" : [ "obj-pre_saved_mode", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_saved_mode", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-answer", 0 ],
					"destination" : [ "obj-pre_answer", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_answer", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-follow_bars", 0 ],
					"destination" : [ "obj-pre_follow_bars", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_follow_bars", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-continue_bars", 0 ],
					"destination" : [ "obj-pre_continue_bars", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_continue_bars", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 10 ],
					"destination" : [ "obj-setanswer", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setanswer", 0 ],
					"destination" : [ "obj-answer", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 11 ],
					"destination" : [ "obj-settemperature", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-settemperature", 0 ],
					"destination" : [ "obj-temperature", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeactive", 4 ],
					"destination" : [ "obj-active_continue_bars", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-active_continue_bars", 0 ],
					"destination" : [ "obj-continue_bars", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeactive", 5 ],
					"destination" : [ "obj-active_follow_bars", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-active_follow_bars", 0 ],
					"destination" : [ "obj-follow_bars", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeactive", 6 ],
					"destination" : [ "obj-active_answer", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-active_answer", 0 ],
					"destination" : [ "obj-answer", 0 ]
				}
			}
		],
		"parameters" : {
			"obj-connect" : [ "Connect", "Connect", 0 ],
			"obj-model" : [ "Model", "Model", 0 ],
			"obj-mode" : [ "Mode", "Tool", 0 ],
			"obj-capture_a" : [ "Capture A", "Capture A", 0 ],
			"obj-capture_b" : [ "Capture B", "Capture B", 0 ],
			"obj-position" : [ "Position", "A>B", 0 ],
			"obj-temperature" : [ "Temperature", "Temp", 0 ],
			"obj-amount" : [ "Amount", "Amount", 0 ],
			"obj-bars" : [ "Bars", "Bars", 0 ],
			"obj-stream" : [ "Stream", "Stream", 0 ],
			"obj-write" : [ "Write Clip", "Write", 0 ],
			"obj-savedmodel" : [ "Saved Model", "Saved Model", 0 ],
			"obj-savedmode" : [ "Saved Mode", "Saved Mode", 0 ],
			"obj-drum0" : [ "Kick Pad", "kick", 0 ],
			"obj-drum1" : [ "Snare Pad", "snare", 0 ],
			"obj-drum2" : [ "Closed Hat Pad", "c.hat", 0 ],
			"obj-drum3" : [ "Open Hat Pad", "o.hat", 0 ],
			"obj-drum4" : [ "Low Tom Pad", "lo tom", 0 ],
			"obj-drum5" : [ "Mid Tom Pad", "mid tom", 0 ],
			"obj-drum6" : [ "High Tom Pad", "hi tom", 0 ],
			"obj-drum7" : [ "Crash Pad", "crash", 0 ],
			"obj-drum8" : [ "Ride Pad", "ride", 0 ],
			"inherited_shortname" : 1,
			"obj-answer" : [ "Answer", "Answer", 0 ],
			"obj-follow_bars" : [ "Follow Bars", "Every", 0 ],
			"obj-continue_bars" : [ "Continue Bars", "+Bars", 0 ]
		},
		"dependency_cache" : [
			{
				"name" : "latentbridge.js",
				"bootpath" : ".",
				"patcherrelativepath" : ".",
				"type" : "TEXT",
				"implicit" : 1
			}
		],
		"autosave" : 0,
		"latency" : 0,
		"is_mpe" : 0,
		"minimum_live_version" : "11.0",
		"minimum_max_version" : "8.1.0",
		"platform_compatibility" : 0,
		"project" : {
			"version" : 1,
			"creationdate" : 3590052786,
			"modificationdate" : 3590052786,
			"viewrect" : [ 0.0, 0.0, 300.0, 500.0 ],
			"autoorganize" : 1,
			"hideprojectwindow" : 1,
			"showdependencies" : 1,
			"autolocalize" : 0,
			"contents" : {
				"patchers" : { },
				"code" : { }
			},
			"layout" : { },
			"searchpath" : { },
			"detailsvisible" : 0,
			"amxdtype" : 1835887981,
			"readonly" : 0,
			"devpathtype" : 0,
			"devpath" : ".",
			"sortmode" : 0,
			"viewmode" : 0,
			"includepackages" : 0
		}
	}
}
